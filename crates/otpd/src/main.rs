use std::process::ExitCode;

fn main() -> ExitCode {
    otpd::cli::main()
}
