//! `kafkasim view`: a run as one self-contained HTML page (space-time diagram, explained line,
//! state panels, stepped with the arrow keys).

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Args;

use super::trace::TraceSource;

use super::{load_with_nemesis, EXIT_BAD_INPUT, EXIT_MATCHED};
use crate::explore::{run_scenario, RunOptions};
use crate::trace::step::{load_jsonl, Step, StepSink};
use serde_json::Value;

use crate::trace::view::{data, page_of, PageInfo};

#[derive(Args, Debug)]
pub struct ViewArgs {
    #[command(flatten)]
    pub source: TraceSource,
    /// The HTML file to write (refuses to overwrite an existing file unless --force).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

pub(crate) fn bad(msg: String) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// The viewer's data for a scenario run (or a saved trace), or the exit code after saying what is
/// wrong.
pub fn prepare(scenario: Option<&PathBuf>, file: Option<&PathBuf>, seed: Option<u64>, nemesis: bool) -> Result<Value, ExitCode> {
    match (file, scenario) {
        (Some(file), _) => match load_jsonl(file) {
            Ok(t) => {
                let info = PageInfo { scenario: &t.scenario, seed: t.seed, verdict: None, violations: &[], reproduce: format!("kafkasim view --file {}", file.display()) };
                Ok(data(&t.nodes, &t.steps, &info))
            }
            Err(e) => Err(bad(e.to_string())),
        },
        (None, Some(path)) => {
            let scenario = load_with_nemesis(path, nemesis)?;
            let seed = seed.unwrap_or_else(|| scenario.default_seed());
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
            Ok(data(&scenario.node_names(), &steps, &info))
        }
        (None, None) => Err(bad("give a scenario or --file".into())),
    }
}

pub fn view(args: ViewArgs) -> ExitCode {
    if args.output.exists() && !args.force {
        return bad(format!("{} exists; pass --force to overwrite it", args.output.display()));
    }
    let html = match prepare(args.source.scenario.as_ref(), args.source.file.as_ref(), args.source.seed, args.source.nemesis) {
        Ok(d) => page_of(&d),
        Err(code) => return code,
    };
    if let Err(e) = std::fs::write(&args.output, &html) {
        return bad(format!("{}: {e}", args.output.display()));
    }
    println!("wrote {} ({} bytes)", args.output.display(), html.len());
    ExitCode::from(EXIT_MATCHED)
}
