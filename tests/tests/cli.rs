//! The `weft` command as an operator meets it: `weft demo` says where to
//! look and whether each source answers, leaves nothing behind when it
//! stops, and refuses a port in use before starting anything.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use weft_tests::TestDir;
use weft_tests::process::{WeftProcess, weft_binary};

#[tokio::test]
async fn the_demo_names_its_routes_and_sources_and_removes_its_files_on_exit() {
    let dir = TestDir::new();
    let log = dir.path().join("weft.log");
    let mut weft = WeftProcess::start_logging(&["demo", "--port", "0"], &[], &log);
    let files = std::fs::read_to_string(&log)
        .expect("the log")
        .lines()
        .find_map(|line| line.strip_prefix("demo files in ").map(str::to_owned))
        .expect("the demo says where its files are");
    assert!(std::path::Path::new(&files).join("weft.toml").is_file());
    let banner = weft.read_lines(7);
    for route in ["GraphiQL", "health", "metrics"] {
        assert!(
            banner
                .iter()
                .any(|line| line.trim_start().starts_with(route)),
            "{banner:?}"
        );
    }
    for source in ["users (rest)", "catalog (grpc)", "orders (rest)"] {
        let line = banner
            .iter()
            .find(|line| line.contains(source))
            .unwrap_or_else(|| panic!("no line for {source}: {banner:?}"));
        assert!(line.ends_with(" up"), "{line}");
    }

    weft.signal("TERM");
    assert!(weft.exited_within(Duration::from_secs(15)).await);
    assert!(
        !std::path::Path::new(&files).exists(),
        "{files} is left behind"
    );
}

#[test]
fn a_port_in_use_is_refused_before_anything_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = taken.local_addr().expect("an address").port().to_string();
    let mut child = Command::new(weft_binary())
        .args(["demo", "--port", &port])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft starts");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let said: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    let status = child.wait().expect("weft exits");
    assert!(!status.success());
    assert!(
        said.iter()
            .any(|line| line.contains(&format!("cannot listen on 127.0.0.1:{port}"))),
        "{said:?}"
    );
    assert!(
        !said.iter().any(|line| line.starts_with("example service")),
        "services started before the port was checked: {said:?}"
    );
}
