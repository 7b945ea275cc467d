// mimalloc: the simulation allocates and frees millions of small messages, records and map nodes
// per run; it does so measurably faster than the system allocator (docs/performance.md). The
// allocator never changes what a run does: no simulated behaviour depends on an address.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kafkasim::cli::main()
}
