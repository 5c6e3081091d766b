//! The npm packages of `tests/js` (the graphql-ws client, playwright-core),
//! installed once for every test that runs a script there.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// How long `npm install` may take.
const NPM_TIMEOUT: Duration = Duration::from_mins(5);

/// `tests/js`.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Installs `tests/js`'s npm dependencies unless every one of
/// `package.json`'s is there already; tests in other processes wait for
/// one install (a lock file).
///
/// # Panics
///
/// When npm is missing or the install fails.
pub async fn ensure_npm_dependencies() -> PathBuf {
    let js = js_dir();
    let lock =
        std::fs::File::create(js.join(".npm-install.lock")).expect("a lock file in tests/js");
    let locked = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
        .await
        .expect("the lock task")
        .expect("the npm install lock");
    if !installed(&js) {
        install(&js).await;
    }
    drop(locked);
    js
}

fn installed(js: &Path) -> bool {
    let manifest = std::fs::read_to_string(js.join("package.json")).expect("tests/js/package.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&manifest).expect("package.json is JSON");
    let dependencies = manifest["dependencies"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    dependencies.keys().all(|package| {
        js.join("node_modules")
            .join(package)
            .join("package.json")
            .is_file()
    })
}

async fn install(js: &Path) {
    let npm = Command::new("npm").arg("--version").output().await;
    assert!(
        npm.as_ref().is_ok_and(|output| output.status.success()),
        "these tests need npm to install {}'s dependencies, and `npm --version` fails \
         ({npm:?}): install Node.js and npm",
        js.display()
    );
    let install = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund"])
        .current_dir(js)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(NPM_TIMEOUT, install)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "`npm install` in {} took longer than {NPM_TIMEOUT:?}",
                js.display()
            )
        })
        .unwrap_or_else(|error| panic!("cannot run `npm install`: {error}"));
    assert!(
        output.status.success(),
        "`npm install --no-audit --no-fund` in {} failed ({}):\n{}",
        js.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
