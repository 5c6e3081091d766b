//! The federation benchmark's `products` subgraph binary: `cargo run -p subgraphs --bin products -- --port PORT`.

use std::process::ExitCode;

fn main() -> ExitCode {
    subgraphs::cli::main(subgraphs::Service::Bench(
        subgraphs::benchmark::Subgraph::Products,
    ))
}
