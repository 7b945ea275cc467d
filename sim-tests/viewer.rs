//! `kafkasim view` in a real headless Chromium: the page steps with key presses, its panels
//! follow the run, and a violation is shown.
//!
//! Chromium loads the page with a fragment (`#step=0&keys=ArrowRight,v`) that makes the page press
//! those keys (keyboard events dispatched to the document, as a person's key presses are), then
//! `--dump-dom` prints the DOM it ended with. If Chromium is missing, the test installs it
//! (`apt-get install -y chromium` when running as root) and fails with a clear message if it
//! cannot: it never passes without a browser.

use std::path::{Path, PathBuf};
use std::process::Command;

const CANDIDATES: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"];

fn find_chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("KAFKASIM_CHROMIUM") {
        assert!(Path::new(&p).exists(), "KAFKASIM_CHROMIUM={p}: no such file");
        return Some(PathBuf::from(p));
    }
    CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A Chromium to drive, installed if need be.
fn chromium() -> PathBuf {
    if let Some(p) = find_chromium() {
        return p;
    }
    assert!(
        is_root(),
        "the viewer test needs Chromium and cannot install it (not root): run `sudo apt-get install -y chromium`, or set KAFKASIM_CHROMIUM to a Chromium or Chrome binary"
    );
    let install = |update: bool| {
        if update {
            let _ = Command::new("apt-get").args(["update"]).status();
        }
        Command::new("apt-get").args(["install", "-y", "chromium"]).env("DEBIAN_FRONTEND", "noninteractive").status().is_ok_and(|s| s.success())
    };
    if !install(false) {
        install(true);
    }
    find_chromium().unwrap_or_else(|| panic!("the viewer test needs Chromium: `apt-get install -y chromium` failed; install it or set KAFKASIM_CHROMIUM"))
}

/// The DOM after loading `page#fragment`.
fn dom(browser: &Path, profile: &Path, page: &Path, fragment: &str) -> String {
    let url = format!("file://{}#{fragment}", page.display());
    let out = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url)
        .output()
        .expect("chromium runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && text.contains("</html>"), "chromium failed on {url}: {}", String::from_utf8_lossy(&out.stderr));
    text
}

/// The text between `start` (its first occurrence) and the next `end`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start} in the page")) + start.len();
    let to = text[from..].find(end).map_or(text.len(), |i| from + i);
    &text[from..to]
}

fn attr(text: &str, name: &str) -> u64 {
    between(text, &format!("{name}=\""), "\"").parse().unwrap()
}

/// Every cell of a panel, tags dropped, one row a line.
fn panel(dom: &str, name: &str) -> String {
    let table = between(dom, &format!("<table id=\"panel-{name}\">"), "</table>");
    let mut out = String::new();
    let mut inside = false;
    for c in table.replace("</tr>", "\n").replace("</td>", " | ").replace("</th>", " | ").chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn the_page_steps_with_keys_and_shows_the_violation() {
    let browser = chromium();
    let dir = std::env::temp_dir().join(format!("kafkasim-viewer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("run.html");
    let out = Command::new(env!("CARGO_BIN_EXE_kafkasim"))
        .args(["view", "scenarios/bugs/kip-101-truncate-to-hw.toml", "--force", "-o"])
        .arg(&page)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    // The only URL in the page is the SVG namespace's name: it loads nothing from the network.
    assert_eq!(html.matches("http").count(), html.matches("http://www.w3.org/2000/svg").count());
    assert!(!html.contains("<script src") && !html.contains("<link"), "one self-contained file");
    let profile = dir.join("profile");

    // The first step: nothing is known about the partitions yet.
    let start = dom(&browser, &profile, &page, "step=0");
    assert_eq!(attr(&start, "data-step"), 0);
    assert!(panel(&start, "partitions").contains("nothing known yet"), "{}", panel(&start, "partitions"));
    assert!(!between(&start, "<div id=\"current-violation\"", "</div>").contains("lost-write"));

    // Forty presses of → : the controller has published events-0 and the producer has appended.
    let keys = vec!["ArrowRight"; 40].join(",");
    let later = dom(&browser, &profile, &page, &format!("step=0&keys={keys}"));
    assert_eq!(attr(&later, "data-step"), 40);
    let partitions = panel(&later, "partitions");
    assert!(partitions.contains("events-0 | b0 | 0 | [b0, b1]"), "{partitions}");
    assert_ne!(panel(&start, "partitions"), partitions);
    assert_ne!(between(&start, "<div id=\"line\">", "</div>"), between(&later, "<div id=\"line\">", "</div>"));
    // ← goes back one step, and the panels with it.
    let back = dom(&browser, &profile, &page, &format!("step=0&keys={keys},ArrowLeft,ArrowLeft"));
    assert_eq!(attr(&back, "data-step"), 38);

    // v: the first step a violation cites; the page names it.
    let violation = dom(&browser, &profile, &page, "step=0&keys=v");
    let step = attr(&violation, "data-step");
    assert!(step > 0);
    let shown = between(&violation, "<div id=\"current-violation\"", "</div>");
    assert!(shown.contains("class=\"shown\"") && shown.contains("[lost-write] record p0#0 acknowledged at events-0 offset 0"), "{shown}");
    assert!(violation.contains("class=\"violation-mark\""), "the diagram marks the step");
    // And the one after it is not the same step: v again moves on.
    let again = dom(&browser, &profile, &page, "step=0&keys=v,v");
    assert!(attr(&again, "data-step") > step);

    // The truncation that lost the records: b1's log cut back to its high watermark 0.
    let truncated = dom(&browser, &profile, &page, "seq=17305");
    let partitions = panel(&truncated, "partitions");
    assert!(partitions.contains("| 0/0 |"), "{partitions}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kafkasim step` with its keys piped in: one 80×24 screen per key.
#[test]
fn the_terminal_stepper_follows_keys() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkasim"))
        .args(["step", "scenarios/bugs/kip-101-truncate-to-hw.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Two steps on, one back, the next violation, the next fault, quit (and keys after q are ignored).
    child.stdin.take().unwrap().write_all(b"nnpvfqnn").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // Each screen ends with the key line.
    let screens: Vec<&str> = text.split_inclusive("q quit\n").filter(|s| s.contains("step ")).collect();
    assert_eq!(screens.len(), 6, "{text}");
    for s in &screens {
        let lines: Vec<&str> = s.trim_start_matches('\n').trim_end_matches('\n').lines().collect();
        assert_eq!(lines.len(), 24, "{s}");
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{s}");
    }
    let step = |s: &str| -> u64 { s.split("  step ").nth(1).unwrap().split('/').next().unwrap().parse().unwrap() };
    let steps: Vec<u64> = screens.iter().map(|s| step(s)).collect();
    assert_eq!(&steps[..4], &[0, 1, 2, 1]);
    assert!(steps[4] > 1 && steps[5] > steps[4], "{steps:?}");
    assert!(screens[4].contains("** VIOLATION [lost-write] record p0#0"), "{}", screens[4]);
    assert!(screens[4].contains("P events-0 L=b0 e0 ISR=[b0, b1]"), "{}", screens[4]);
    assert!(screens[5].contains("** FAULT"), "{}", screens[5]);
}

/// A tmux on this machine, installed if need be (as for Chromium above).
fn tmux() -> &'static str {
    let found = || Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
    if !found() {
        assert!(is_root(), "the stepper test needs tmux and cannot install it (not root): run `sudo apt-get install -y tmux`");
        let _ = Command::new("apt-get").args(["install", "-y", "tmux"]).env("DEBIAN_FRONTEND", "noninteractive").status();
        if !found() {
            let _ = Command::new("apt-get").arg("update").status();
            let _ = Command::new("apt-get").args(["install", "-y", "tmux"]).env("DEBIAN_FRONTEND", "noninteractive").status();
        }
        assert!(found(), "the stepper test needs tmux: `apt-get install -y tmux` failed");
    }
    "tmux"
}

/// One tmux server of its own (`-L`), killed when the test ends however it ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(tmux()).arg("-L").arg(&self.socket).args(args).output().unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn pane(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "step"])
    }

    /// The pane once `ready` holds, waiting up to a minute (the debug build runs the scenario
    /// before the first screen).
    fn wait(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        for _ in 0..600 {
            let pane = self.pane();
            if ready(&pane) {
                return pane;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("tmux: {what} never showed:\n{}", self.pane());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

/// `kafkasim step` in a real terminal: an 80×24 tmux pane, single keys (no Enter), arrow keys,
/// each screen replacing the last, and `q` leaving the terminal as it found it.
#[test]
fn the_terminal_stepper_under_tmux() {
    let t = Tmux { socket: format!("kafkasim-step-{}", std::process::id()) };
    let bin = env!("CARGO_BIN_EXE_kafkasim");
    let cmd = format!("cd {} && {bin} step scenarios/bugs/kip-101-truncate-to-hw.toml; echo exit=$?; stty -a | grep -o -- '-\\?icanon'; sleep 600", env!("CARGO_MANIFEST_DIR"));
    t.run(&["new-session", "-d", "-s", "step", "-x", "80", "-y", "24", "sh", "-c", &cmd]);
    // A screen is whole once its last line, the keys, is drawn: capture-pane may catch one half
    // written.
    let step_of = |pane: &str| -> Option<u64> {
        if !pane.contains("q quit") {
            return None;
        }
        pane.split("  step ").nth(1)?.split('/').next()?.parse().ok()
    };
    let first = t.wait("the first screen", |p| step_of(p) == Some(0));
    let lines: Vec<&str> = first.lines().collect();
    assert!(lines.len() <= 24 && lines.iter().all(|l| l.chars().count() <= 80), "{first}");
    assert!(lines.last().is_some_and(|l| l.contains("q quit")), "the key line is the last line:\n{first}");
    // One screen per key, each replacing the last: the pane shows one `step` line at a time.
    for (keys, want) in [(&["n"][..], 1), (&["Right"][..], 2), (&["Left"][..], 1), (&["p"][..], 0)] {
        t.run(&[&["send-keys", "-t", "step"][..], keys].concat());
        let pane = t.wait(&format!("step {want} after {keys:?}"), |p| step_of(p) == Some(want));
        assert_eq!(pane.matches("  step ").count(), 1, "{pane}");
    }
    t.run(&["send-keys", "-t", "step", "v"]);
    let violation = t.wait("the violation", |p| p.contains("** VIOLATION [lost-write]") && p.contains("q quit"));
    assert!(step_of(&violation).is_some_and(|s| s > 0), "{violation}");
    t.run(&["send-keys", "-t", "step", "q"]);
    // `exit=` and stty's mode are printed one after the other: wait for both.
    let after = t.wait("the exit and the terminal mode", |p| p.contains("exit=") && p.lines().any(|l| l.trim().ends_with("icanon")));
    assert!(after.contains("exit=0"), "{after}");
    // The terminal is back in line mode (`icanon`, not `-icanon`).
    assert!(after.lines().any(|l| l.trim() == "icanon"), "the terminal was left in single-key mode:\n{after}");
}
