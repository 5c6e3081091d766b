//! The users service binary: `cargo run -p subgraphs --bin users -- --port PORT`.

use std::process::ExitCode;

fn main() -> ExitCode {
    subgraphs::cli::main(subgraphs::Service::Users)
}
