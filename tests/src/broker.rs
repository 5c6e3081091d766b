//! A message broker's server process for the tests that need one: found
//! on `PATH` or where its Debian package installs it, started on a port of
//! 127.0.0.1, and stopped on drop; or, for a server slow to start, started
//! once as the machine's shared server and left running.
//! [`crate::NatsServer`], [`crate::RedisServer`] and
//! [`crate::RabbitMqServer`] are built on it.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server has to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A broker's server program.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// Its binary's name, e.g. `nats-server`.
    pub name: &'static str,
    /// Where the Debian package installs it.
    pub installed: &'static str,
    /// The Debian package.
    pub package: &'static str,
    /// The address a shared server usually listens on.
    pub default: &'static str,
}

/// A server process started by [`Program::start`]; killed on drop.
#[derive(Debug)]
pub struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Program {
    /// Whether a server accepts TCP connections on [`Self::default`].
    ///
    /// # Panics
    ///
    /// When [`Self::default`] is not a socket address.
    pub fn default_reachable(&self) -> bool {
        reachable(self.default.parse().expect("a socket address"))
    }

    /// The program run with `args`, once it accepts connections on
    /// 127.0.0.1:`port`.
    ///
    /// # Panics
    ///
    /// When the binary is found neither at [`Self::installed`] nor on
    /// `PATH`, cannot be started, exits, or does not accept connections in
    /// time.
    pub fn start(&self, args: &[&str], port: u16) -> Started {
        let binary = self.find().unwrap_or_else(|| self.missing());
        let command = format!("{} {}", binary.display(), args.join(" "));
        let child = Command::new(&binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("{command} cannot be started: {error}"));
        let mut started = Started(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_TIMEOUT;
        while !reachable(addr) {
            if let Ok(Some(status)) = started.0.try_wait() {
                panic!("{command} exited at once ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "{command} does not accept connections after {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        started
    }

    /// Runs the program with `args`, which must make it detach and return,
    /// as the machine's shared server on
    /// [`Self::default`], unless one already accepts connections there, and
    /// waits up to `timeout` for it. The server is left running: it is slow
    /// to start, and tests running at the same time share it (a second
    /// start while the first is under way fails, and its wait is met by
    /// the first).
    ///
    /// # Panics
    ///
    /// When the binary is not found, or nothing accepts connections on
    /// [`Self::default`] after `timeout`.
    pub fn start_shared(&self, args: &[&str], timeout: Duration) {
        if self.default_reachable() {
            return;
        }
        let binary = self.find().unwrap_or_else(|| self.missing());
        let command = format!("{} {}", binary.display(), args.join(" "));
        // `args` detach the server, so the command returns once it is under
        // way; a failed start shows as nothing listening.
        Command::new(&binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|error| panic!("{command} cannot be started: {error}"));
        let deadline = Instant::now() + timeout;
        while !self.default_reachable() {
            assert!(
                Instant::now() < deadline,
                "{command} was started, but nothing accepts connections on {default} after \
                 {timeout:?}",
                default = self.default,
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Fails the test saying which server is missing and how to install it.
    fn missing(&self) -> ! {
        panic!(
            "these tests need a {name}: nothing accepts connections on {default}, and no \
             `{name}` binary was found at {installed} or on PATH to start one (Debian: \
             `apt-get install {package}`)",
            name = self.name,
            default = self.default,
            installed = self.installed,
            package = self.package,
        );
    }

    fn find(&self) -> Option<PathBuf> {
        let installed = PathBuf::from(self.installed);
        if installed.is_file() {
            return Some(installed);
        }
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(self.name))
                .find(|candidate| candidate.is_file())
        })
    }
}

fn reachable(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}
