//! Command line of the service binaries: `--host` and `--port`, start the
//! service, print where it listens, run until Ctrl-C.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use clap::Parser;

use crate::{Service, SpawnOptions, spawn};

/// Arguments of a service binary.
#[derive(Debug, Clone, Parser)]
#[command(about = "Runs one weft example service until Ctrl-C.")]
pub struct Args {
    /// Host name or IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; defaults to the service's own port (users 4001,
    /// catalog 4002, orders 4003).
    #[arg(long)]
    pub port: Option<u16>,
}

impl Args {
    /// The address to listen on for `service`.
    pub fn addr(&self, service: Service) -> std::io::Result<SocketAddr> {
        let port = self.port.unwrap_or(service.default_port());
        (self.host.as_str(), port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("{} resolves to nothing", self.host)))
    }
}

/// Entry point of a service binary: parses the process arguments, serves
/// until Ctrl-C, and reports failure through the exit code.
pub fn main(service: Service) -> ExitCode {
    let args = Args::parse();
    match run(service, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{service}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Starts `service` as `args` say, prints its address, and returns after Ctrl-C.
pub fn run(service: Service, args: &Args) -> std::io::Result<()> {
    let running = spawn(service, args.addr(service)?, SpawnOptions::default())?;
    println!("{service} listening on {}", running.url());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(tokio::signal::ctrl_c())?;
    running.kill();
    Ok(())
}
