//! The federation benchmark's `inventory` subgraph binary: `cargo run -p subgraphs --bin inventory -- --port PORT`.

use std::process::ExitCode;

fn main() -> ExitCode {
    subgraphs::cli::main(subgraphs::Service::Bench(
        subgraphs::benchmark::Subgraph::Inventory,
    ))
}
