//! `weft bench outage`: what clients see while one backend goes away and
//! comes back.
//!
//! The example services and `weft serve` run as separate processes, as in
//! [`super::queries`]. Clients drive the single-user query (it needs all
//! three services) for the whole run; after a third of it the catalog
//! service is killed, after two thirds it is started again on the same
//! port. Every answer is sorted into full, partial (data, with errors only
//! at the catalog's fields, each with a `path` and `extensions.code`),
//! wrong (any other error) and failed as a whole (no `data`, or not HTTP
//! 200); the table shows them per phase, and how long after the restart
//! the first full answer came.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::queries::{self, QUERIES};

/// How hard and how long to drive the query.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The whole run; the outage is its middle third.
    pub duration: Duration,
}

/// What one answer was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Full,
    Partial,
    Wrong,
    Failed,
}

/// The answers of one phase of the run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phase {
    /// Answers without errors.
    pub full: usize,
    /// Answers with data, nulls and errors only at the catalog's fields.
    pub partial: usize,
    /// Answers with data and errors elsewhere, or errors without a `path`
    /// or `extensions.code`.
    pub wrong: usize,
    /// Requests that failed as a whole.
    pub failed: usize,
}

impl Phase {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Full => self.full += 1,
            Outcome::Partial => self.partial += 1,
            Outcome::Wrong => self.wrong += 1,
            Outcome::Failed => self.failed += 1,
        }
    }
}

/// What the run saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    /// Before the kill, during the outage, after the restart.
    pub phases: [Phase; 3],
    /// From the restart to the first full answer sent after it.
    pub recovery: Option<Duration>,
}

/// Runs the outage.
pub async fn run(options: Options) -> Result<Report, String> {
    let (mut services, urls) = queries::start_services()?;
    let dir = queries::write_config(&urls)?;
    let (_gateway, addr) = queries::start_gateway(
        &std::env::current_exe().map_err(|e| e.to_string())?,
        &dir.0,
        false,
    )?;
    let catalog_addr: SocketAddr = urls[1]
        .trim_start_matches("http://")
        .parse()
        .map_err(|_| "the catalog has no address".to_owned())?;
    let url = format!("http://{addr}/graphql");
    let query = QUERIES[0].1;
    let client = reqwest::Client::new();
    let answers = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let drivers = drive(&client, &url, query, options, started, answers.clone());
    let third = options.duration / 3;
    let outage = async {
        tokio::time::sleep(third).await;
        drop(services.remove(1));
        let killed = started.elapsed();
        tokio::time::sleep(third).await;
        let restarted = started.elapsed();
        let catalog = queries::start_service(&queries::binaries()?, "catalog", catalog_addr)?;
        Ok::<_, String>((killed, restarted, catalog))
    };
    let ((), outage) = tokio::join!(drivers, outage);
    let (killed, restarted, _catalog) = outage?;
    let answers = std::mem::take(&mut *answers.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(report(&answers, killed, restarted))
}

/// Sorts the answers (when each was sent, what it was) into phases.
fn report(answers: &[(Duration, Outcome)], killed: Duration, restarted: Duration) -> Report {
    let mut report = Report::default();
    for &(sent, outcome) in answers {
        let phase = if sent < killed {
            0
        } else if sent < restarted {
            1
        } else {
            2
        };
        report.phases[phase].count(outcome);
    }
    report.recovery = answers
        .iter()
        .filter(|(_, outcome)| *outcome == Outcome::Full)
        .filter_map(|(sent, _)| sent.checked_sub(restarted))
        .min();
    report
}

async fn drive(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    options: Options,
    started: Instant,
    answers: Arc<Mutex<Vec<(Duration, Outcome)>>>,
) {
    let workers = (0..options.concurrency.max(1)).map(|_| {
        let answers = answers.clone();
        async move {
            while started.elapsed() < options.duration {
                let sent = started.elapsed();
                let outcome = ask(client, url, query).await;
                answers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((sent, outcome));
            }
        }
    });
    futures::future::join_all(workers).await;
}

async fn ask(client: &reqwest::Client, url: &str, query: &str) -> Outcome {
    let response = client
        .post(url)
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await;
    let Ok(response) = response else {
        return Outcome::Failed;
    };
    if !response.status().is_success() {
        return Outcome::Failed;
    }
    match response.json::<Value>().await {
        Ok(body) => classify(&body),
        Err(_) => Outcome::Failed,
    }
}

/// Sorts one answer of the single-user query.
fn classify(body: &Value) -> Outcome {
    if body.get("data").is_none_or(Value::is_null) {
        return Outcome::Failed;
    }
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        return Outcome::Full;
    };
    let at_catalog = |error: &Value| {
        let path = error.get("path").and_then(Value::as_array);
        let code = error.pointer("/extensions/code").and_then(Value::as_str);
        code.is_some() && path.is_some_and(|path| path.last().is_some_and(|last| last == "product"))
    };
    if errors.iter().all(at_catalog) {
        Outcome::Partial
    } else {
        Outcome::Wrong
    }
}

/// The report as a Markdown table.
pub fn table(report: &Report, options: Options) -> String {
    let mut out = format!(
        "single-user query, concurrency {}, {:.0} s; the catalog service is killed after a third and restarted after two thirds\n\n| phase | full answers | partial (catalog fields null, with path and code) | other errors | failed as a whole |\n|---|---:|---:|---:|---:|\n",
        options.concurrency,
        options.duration.as_secs_f64()
    );
    for (name, phase) in ["before", "catalog down", "after restart"]
        .iter()
        .zip(&report.phases)
    {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} |",
            phase.full, phase.partial, phase.wrong, phase.failed
        );
    }
    let recovery = report.recovery.map_or_else(
        || "never".to_owned(),
        |recovery| format!("{:.0} ms", super::ms(recovery)),
    );
    let _ = writeln!(out, "\nfirst full answer after the restart: {recovery}");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_are_sorted_by_where_their_errors_are() {
        let full = json!({ "data": { "user": { "name": "A" } } });
        let partial = json!({ "data": { "user": null }, "errors": [
            { "message": "down", "path": ["user", "orders", 0, "items", 1, "product"], "extensions": { "code": "SOURCE_UNAVAILABLE" } }
        ]});
        let no_code = json!({ "data": {}, "errors": [
            { "message": "down", "path": ["user", "orders", 0, "items", 1, "product"] }
        ]});
        let elsewhere = json!({ "data": {}, "errors": [
            { "message": "down", "path": ["user"], "extensions": { "code": "SOURCE_UNAVAILABLE" } }
        ]});
        let failed = json!({ "errors": [{ "message": "no" }] });
        assert_eq!(classify(&full), Outcome::Full);
        assert_eq!(classify(&partial), Outcome::Partial);
        assert_eq!(classify(&no_code), Outcome::Wrong);
        assert_eq!(classify(&elsewhere), Outcome::Wrong);
        assert_eq!(classify(&failed), Outcome::Failed);
    }

    #[test]
    fn recovery_is_the_first_full_answer_after_the_restart() {
        let (killed, restarted) = (Duration::from_secs(1), Duration::from_secs(2));
        let answers = [
            (Duration::from_millis(500), Outcome::Full),
            (Duration::from_millis(1500), Outcome::Partial),
            (Duration::from_millis(2100), Outcome::Partial),
            (Duration::from_millis(2300), Outcome::Full),
            (Duration::from_millis(2200), Outcome::Full),
        ];
        let report = report(&answers, killed, restarted);
        assert_eq!(report.phases[0].full, 1);
        assert_eq!(report.phases[1].partial, 1);
        assert_eq!(report.phases[2].full, 2);
        assert_eq!(report.recovery, Some(Duration::from_millis(200)));
    }
}
