//! The model stays pure: no clock, no OS randomness, no async, no iterated hash maps, and no
//! engine types. (DESIGN.md: "src/model/ stays free of any engine type".)

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_model_names_no_clock_randomness_async_hash_map_or_engine() {
    let forbidden = ["std::time", "SystemTime", "Instant::now", "thread_rng", "rand::random", "HashMap", "HashSet", "async fn", "tokio", "crate::engine", "std::thread"];
    let mut files = Vec::new();
    rust_files(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/model"), &mut files);
    assert!(files.len() > 5);
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    hits.push(format!("{}:{}: {word}", f.display(), i + 1));
                }
            }
        }
    }
    assert!(hits.is_empty(), "impure model code:\n{}", hits.join("\n"));
}
