//! The `weft` binary of this build as a child process: started with
//! arguments and environment, its address read from what it prints, its
//! log kept in a file when asked, signalled like an operator would, and
//! killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// `weft` serving on a free port; stopped on drop.
#[derive(Debug)]
pub struct WeftProcess {
    child: Child,
    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Kept open: weft goes on printing, and a closed pipe would stop it.
    stdout: std::io::Lines<BufReader<ChildStdout>>,
}

impl WeftProcess {
    /// Runs `weft <args>` with `env` added, its log thrown away; returns
    /// once it says where it serves.
    ///
    /// # Panics
    ///
    /// When the binary does not build or start, or never says where it
    /// serves.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(args, env, Stdio::null())
    }

    /// [`Self::start`], with its log (standard error) written to `log`.
    ///
    /// # Panics
    ///
    /// As [`Self::start`], and when `log` cannot be created.
    pub fn start_logging(args: &[&str], env: &[(&str, &str)], log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("the log file can be created");
        Self::spawn(args, env, Stdio::from(file))
    }

    fn spawn(args: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Self {
        let mut child = Command::new(weft_binary())
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("weft starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|line| line.starts_with("weft is serving GraphQL at "))
            .expect("weft prints where it serves");
        let url = line
            .trim_start_matches("weft is serving GraphQL at ")
            .trim_end_matches("/graphql")
            .to_owned();
        Self {
            child,
            url,
            stdout: lines,
        }
    }

    /// The next `count` lines it prints on standard output (fewer if it
    /// stops first).
    pub fn read_lines(&mut self, count: usize) -> Vec<String> {
        self.stdout
            .by_ref()
            .take(count)
            .map_while(Result::ok)
            .collect()
    }

    /// POSTs `{"query": query}` to its `/graphql` and returns the body.
    ///
    /// # Panics
    ///
    /// When weft does not answer or the body is not JSON.
    pub async fn query(&self, query: &str) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}/graphql", self.url))
            .json(&serde_json::json!({ "query": query }))
            .send()
            .await
            .expect("weft answers")
            .json()
            .await
            .expect("a JSON body")
    }

    /// Sends the signal `name` (e.g. `TERM`, `INT`).
    ///
    /// # Panics
    ///
    /// When `kill` fails.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits up to `bound` for the process to exit.
    ///
    /// # Panics
    ///
    /// When the child cannot be waited on.
    pub async fn exited_within(&mut self, bound: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < bound {
            if self
                .child
                .try_wait()
                .expect("the child can be waited on")
                .is_some()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Drop for WeftProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `weft` binary of this build, built first if need be.
///
/// # Panics
///
/// When it does not build.
pub fn weft_binary() -> PathBuf {
    built("weft", "weft")
}

/// The binary of an example service (`users`, `catalog`, `orders`) of this
/// build, built first if need be.
///
/// # Panics
///
/// When it does not build.
pub fn service_binary(name: &str) -> PathBuf {
    built("subgraphs", name)
}

fn built(package: &str, binary: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", package, "--bin", binary])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the {binary} binary builds");
    let deps = std::env::current_exe().expect("the test binary's path");
    let profile = deps
        .parent()
        .and_then(Path::parent)
        .expect("tests run from <target>/<profile>/deps");
    profile.join(format!("{binary}{}", std::env::consts::EXE_SUFFIX))
}
