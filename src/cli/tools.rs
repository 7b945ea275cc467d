//! Small inspection commands that read JSON on stdin and print JSON on stdout (placeholder).

use std::process::ExitCode;

pub fn assign() -> ExitCode {
    eprintln!("error: not implemented yet");
    ExitCode::from(2)
}

pub fn partition() -> ExitCode {
    eprintln!("error: not implemented yet");
    ExitCode::from(2)
}

pub fn coordinator(group: &str, offsets_partitions: i32) -> ExitCode {
    println!("{}", crate::model::partitioner::coordinator_partition(group, offsets_partitions));
    ExitCode::SUCCESS
}
