//! `kafkasim view`: a run as one self-contained HTML page (space-time diagram, explained line,
//! state panels, stepped with the arrow keys).

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Args;

use super::{load_with_nemesis, EXIT_BAD_INPUT, EXIT_MATCHED};
use crate::explore::{run_scenario, RunOptions};
use crate::trace::step::{load_jsonl, Step, StepSink};
use crate::trace::view::{page, PageInfo};

#[derive(Args, Debug)]
pub struct ViewArgs {
    /// The scenario to run (or give --file).
    #[arg(required_unless_present = "file")]
    pub scenario: Option<PathBuf>,
    /// Show a saved trace (`kafkasim run … --trace FILE`) instead of running a scenario (it has no
    /// verdict, so no violations are shown).
    #[arg(long, conflicts_with_all = ["scenario", "seed", "nemesis"])]
    pub file: Option<PathBuf>,
    /// The seed (default: the scenario's `run.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run the scenario's `[nemesis]`.
    #[arg(long)]
    pub nemesis: bool,
    /// The HTML file to write (refuses to overwrite an existing file unless --force).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

fn bad(msg: String) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_BAD_INPUT)
}

pub fn view(args: ViewArgs) -> ExitCode {
    if args.output.exists() && !args.force {
        return bad(format!("{} exists; pass --force to overwrite it", args.output.display()));
    }
    let html = match (&args.file, &args.scenario) {
        (Some(file), _) => match load_jsonl(file) {
            Ok(t) => {
                let info = PageInfo { scenario: &t.scenario, seed: t.seed, verdict: None, violations: &[], reproduce: format!("kafkasim view --file {}", file.display()) };
                page(&t.nodes, &t.steps, &info)
            }
            Err(e) => return bad(e.to_string()),
        },
        (None, Some(path)) => {
            let scenario = match load_with_nemesis(path, args.nemesis) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let seed = args.seed.unwrap_or_else(|| scenario.default_seed());
            let steps: Rc<RefCell<Vec<Step>>> = Rc::default();
            let options = RunOptions { sink: Some(Box::new(StepSink { steps: steps.clone() })), ..RunOptions::default() };
            let report = run_scenario(&scenario, seed, options);
            let steps = std::mem::take(&mut *steps.borrow_mut());
            let info = PageInfo {
                scenario: &scenario.name,
                seed,
                verdict: Some((report.verdict.clone(), report.expected.clone())),
                violations: &report.violations,
                reproduce: report.reproduce.clone(),
            };
            page(&scenario.node_names(), &steps, &info)
        }
        (None, None) => return bad("give a scenario or --file".into()),
    };
    if let Err(e) = std::fs::write(&args.output, &html) {
        return bad(format!("{}: {e}", args.output.display()));
    }
    println!("wrote {} ({} bytes)", args.output.display(), html.len());
    ExitCode::from(EXIT_MATCHED)
}
