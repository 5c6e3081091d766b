//! The reviews subgraph binary: `cargo run -p subgraphs --bin reviews -- --port PORT`.

use std::process::ExitCode;

fn main() -> ExitCode {
    subgraphs::cli::main(subgraphs::Service::Reviews)
}
