//! The federation benchmark's `accounts` subgraph binary: `cargo run -p subgraphs --bin accounts -- --port PORT`.

use std::process::ExitCode;

fn main() -> ExitCode {
    subgraphs::cli::main(subgraphs::Service::Bench(
        subgraphs::benchmark::Subgraph::Accounts,
    ))
}
