//! Compiles `proto/catalog/v1/catalog.proto` into Rust client and server code,
//! and writes its file descriptor set (with its imports and comments) to
//! `$OUT_DIR/catalog_descriptor.bin`, which the catalog serves over gRPC
//! server reflection.
//!
//! `protoc` is not needed: `protox` parses the proto files in pure Rust and
//! hands the descriptor set to `tonic-prost-build`.

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let fds = protox::compile(["catalog/v1/catalog.proto"], ["../proto"])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("catalog_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
