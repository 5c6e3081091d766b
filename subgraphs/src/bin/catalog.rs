//! The catalog service binary: `cargo run -p subgraphs --bin catalog -- --port PORT`.

use std::process::ExitCode;

fn main() -> ExitCode {
    subgraphs::cli::main(subgraphs::Service::Catalog)
}
