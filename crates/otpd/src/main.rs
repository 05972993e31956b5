use std::process::ExitCode;

// mimalloc: measurably fewer instructions per request than the system allocator on otpd's
// allocation pattern (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    otpd::cli::main()
}
