//! Hot reload for `weft serve`: `weft.toml`, the schema files, the `.proto`
//! files, the OpenAPI documents, the supergraph file and the JWKS file it
//! names are watched (their modification times, checked every second), and
//! SIGHUP reloads at once; a reload fetches the descriptors of
//! `reflection = true` sources again. A new version is built and checked
//! in full first (the same checks as at start-up) and only then served to
//! new requests; requests and subscriptions already running finish on the
//! version they started with. A version with a
//! problem is logged with its file and line, and the one being served
//! stays.
//!
//! `[server]`, `[events]`, `[subscriptions]` and `[log]` are read at
//! start-up only; a change to them takes a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::Gateway;
use crate::config::{Config, SourceKind, SubgraphSdl, auth::Jwks};

/// How often the watched files are looked at.
const POLL: Duration = Duration::from_secs(1);

/// Watches the files `config` was built from and reloads `gateway` when
/// one changes or SIGHUP arrives; runs until the process ends.
pub async fn watch(gateway: Arc<Gateway>, config: Config) {
    let path = config.path.clone();
    let mut files = Stamps::of(watched_files(&config));
    let mut hangups = hangups();
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let asked = tokio::select! {
            _ = ticks.tick() => false,
            Some(()) = next_hangup(&mut hangups) => true,
        };
        if !asked && !files.changed() {
            continue;
        }
        match reload(&gateway, &path).await {
            Ok(config) => {
                files = Stamps::of(watched_files(&config));
                tracing::info!(target: "weft::reload", config = %path.display(), "reloaded");
            }
            Err(problems) => {
                // Remember the broken files' times: only a new edit retries.
                files.changed();
                tracing::error!(
                    target: "weft::reload",
                    config = %path.display(),
                    "the new version is not served, the previous one still is:\n{problems}"
                );
            }
        }
    }
}

/// Reads the config at `path` again, fetches its reflection sources'
/// descriptors again, and serves the version they make.
async fn reload(gateway: &Gateway, path: &Path) -> Result<Config, crate::error::Diagnostics> {
    let mut config = Config::load(path)?;
    crate::sources::reflection::fetch_all(&mut config).await?;
    gateway.reload(&config)?;
    Ok(config)
}

/// Every file a config is built from.
fn watched_files(config: &Config) -> Vec<PathBuf> {
    let mut files = vec![config.path.clone()];
    files.extend(config.schema.files.iter().map(|file| file.path.clone()));
    files.extend(
        config
            .supergraph
            .iter()
            .map(|supergraph| supergraph.path.clone()),
    );
    for source in config.sources.values() {
        match &source.kind {
            SourceKind::Grpc(grpc) => files.extend(grpc.descriptors.proto_files().iter().cloned()),
            SourceKind::Rest(rest) => files.extend(rest.openapi.iter().cloned()),
            SourceKind::Graphql(graphql) => {
                if let SubgraphSdl::File(sdl) = &graphql.sdl {
                    files.push(sdl.clone());
                }
            }
        }
    }
    if let Some(Jwks::File(jwks)) = config.auth.as_ref().map(|auth| &auth.jwks) {
        files.push(jwks.clone());
    }
    files
}

/// The modification times of watched files, as last seen.
struct Stamps(Vec<(PathBuf, Option<SystemTime>)>);

impl Stamps {
    fn of(files: Vec<PathBuf>) -> Self {
        Self(
            files
                .into_iter()
                .map(|file| {
                    let stamp = modified(&file);
                    (file, stamp)
                })
                .collect(),
        )
    }

    /// Whether a file changed since last seen (and remembers what it saw).
    fn changed(&mut self) -> bool {
        let mut changed = false;
        for (file, stamp) in &mut self.0 {
            let now = modified(file);
            if now != *stamp {
                *stamp = now;
                changed = true;
            }
        }
        changed
    }
}

fn modified(file: &Path) -> Option<SystemTime> {
    std::fs::metadata(file)
        .and_then(|meta| meta.modified())
        .ok()
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

#[cfg(unix)]
fn hangups() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangups() -> Hangups {
    None
}

/// The next SIGHUP; never, where there are none.
async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangups {
        return signal.recv().await;
    }
    let _ = hangups;
    std::future::pending().await
}
