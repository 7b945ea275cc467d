//! `kafkasim step`: a run stepped in the terminal (80×24), one key at a time.

use std::io::{IsTerminal, Read, Write};
use std::process::{Command, ExitCode, Stdio};

use clap::Args;

use super::trace::TraceSource;

use super::view::prepare;
use super::EXIT_MATCHED;
use crate::trace::stepper::{Key, Stepper};

#[derive(Args, Debug)]
pub struct StepArgs {
    #[command(flatten)]
    pub source: TraceSource,
}

/// Puts the terminal in single-key mode until dropped.
struct RawMode {
    saved: Option<String>,
}

impl RawMode {
    fn on() -> RawMode {
        let saved = Command::new("stty").arg("-g").stdin(Stdio::inherit()).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if saved.is_some() {
            let _ = Command::new("stty").args(["-icanon", "-echo", "min", "1"]).stdin(Stdio::inherit()).status();
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(s) = &self.saved {
            let _ = Command::new("stty").arg(s).stdin(Stdio::inherit()).status();
        }
    }
}

/// The next key from the bytes of stdin: `None` at the end of input.
fn next_key(input: &mut impl Iterator<Item = u8>) -> Option<Key> {
    loop {
        let key = match input.next()? {
            b'n' | b' ' | b'j' => Key::Next,
            b'p' | b'k' => Key::Back,
            b'f' => Key::Fault,
            b'r' => Key::Rebalance,
            b'v' => Key::Violation,
            b'q' | 3 | 4 => Key::Quit,
            0x1b => match (input.next()?, input.next()?) {
                (b'[' | b'O', b'C') => Key::Next,
                (b'[' | b'O', b'D') => Key::Back,
                _ => continue,
            },
            _ => continue,
        };
        return Some(key);
    }
}

pub fn step(args: StepArgs) -> ExitCode {
    let data = match prepare(args.source.scenario.as_ref(), args.source.file.as_ref(), args.source.seed, args.source.nemesis) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let mut stepper = Stepper::new(data);
    if stepper.is_empty() {
        println!("the trace has no steps");
        return ExitCode::from(EXIT_MATCHED);
    }
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let _raw = tty.then(RawMode::on);
    let stdin = std::io::stdin();
    let mut input = stdin.lock().bytes().map_while(Result::ok);
    let mut out = std::io::stdout().lock();
    let mut at = 0;
    loop {
        let screen = stepper.screen(at).join(if tty { "\r\n" } else { "\n" });
        // On a terminal each screen replaces the last; piped, screens follow one another.
        let shown = if tty { write!(out, "\x1b[H\x1b[2J{screen}") } else { writeln!(out, "{screen}\n") };
        if shown.and_then(|_| out.flush()).is_err() {
            break;
        }
        match next_key(&mut input) {
            None | Some(Key::Quit) => break,
            Some(k) => at = stepper.after(at, k),
        }
    }
    if tty {
        let _ = writeln!(out, "\r");
    }
    ExitCode::from(EXIT_MATCHED)
}
