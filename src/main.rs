//! Entry point: everything lives in the library so the tests can reach it.

fn main() -> std::process::ExitCode {
    actsim::main()
}
