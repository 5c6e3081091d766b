//! The federation benchmark's `bench-reviews` subgraph binary: `cargo run -p subgraphs --bin bench-reviews -- --port PORT`.

use std::process::ExitCode;

fn main() -> ExitCode {
    subgraphs::cli::main(subgraphs::Service::Bench(
        subgraphs::benchmark::Subgraph::Reviews,
    ))
}
