//! The orders service binary: `cargo run -p subgraphs --bin orders -- --port PORT`.

use std::process::ExitCode;

fn main() -> ExitCode {
    subgraphs::cli::main(subgraphs::Service::Orders)
}
