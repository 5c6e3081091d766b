//! Compiles `proto/catalog/v1/catalog.proto` into Rust client and server code.
//!
//! `protoc` is not needed: `protox` parses the proto files in pure Rust and
//! hands the descriptor set to `tonic-prost-build`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let fds = protox::compile(["catalog/v1/catalog.proto"], ["../proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
