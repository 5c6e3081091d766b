//! What keeps a failing backend from failing more than it must: retries of
//! idempotent calls, and a circuit breaker per source.
//!
//! This module owns the policy (which failures are transient, how long to
//! wait before a retry, when a source counts as down) and the breaker's
//! state machine; `measured` in the parent module applies them to every
//! backend call. Both are set per source:
//!
//! ```toml
//! [sources.users]
//! kind = "rest"
//! url = "http://users.internal:8080"
//! retries = 2                 # default 0: no retry
//! retry_backoff_ms = 50       # default 50
//!
//! [sources.users.breaker]     # optional: on by default, with these values
//! error_rate = 0.5
//! window_ms = 10000
//! min_calls = 20
//! open_ms = 500
//!
//! [sources.catalog]
//! kind = "grpc"
//! endpoint = "http://catalog.internal:50051"
//! protos = ["proto/catalog/v1/catalog.proto"]
//! retries = 1
//! idempotent_methods = ["catalog.v1.Catalog/GetProduct"]
//! breaker = false             # or `enabled = false` in the breaker table
//! ```
//!
//! **Retries.** Only idempotent calls are sent again: REST `GET`s (never a
//! `POST`, `PUT`, `PATCH` or `DELETE`) and gRPC calls to a method listed in
//! `idempotent_methods`, and never a call a mutation field makes. A call is retried after a transient failure only
//! (see [`is_transient`]): the backend could not be reached or answered
//! gRPC `UNAVAILABLE`, it did not answer within the source's timeout, or it
//! answered HTTP 5xx. A 4xx, any other gRPC status or an answer weft cannot
//! use is final. Before retry `n` (counting from 0) the call waits a random
//! time between 0 and `retry_backoff_ms × 2ⁿ`, at most [`MAX_BACKOFF`]
//! ("full jitter"). Each attempt has the source's whole timeout, and counts
//! in the metrics as a call of its own.
//!
//! **Breaker.** Closed, it counts the outcome of every call in a rolling
//! window of `window_ms` (kept in ten slices). Once the window holds at
//! least `min_calls` calls and the share of failures (see
//! [`is_backend_failure`]) reaches `error_rate`, it opens: calls fail at
//! once with `SOURCE_UNAVAILABLE` and nothing is sent. The first call after
//! `open_ms` is let through as a probe (half-open) while others are still
//! refused; the probe's success closes the breaker with an empty window,
//! its failure opens it for another `open_ms`. The state moves only when a
//! call comes, so an idle source stays reported open until its next call.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;

use crate::config::sources::BreakerConfig;
use crate::error::SourceError;

/// The longest wait before a retry, whatever `retry_backoff_ms` says.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How many slices the breaker's rolling window is kept in.
const SLICES: u64 = 10;

/// How often, and after how long a wait, an idempotent call is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    retries: u32,
    base: Duration,
}

impl RetryPolicy {
    /// At most `retries` retries, the first after up to `base`.
    pub fn new(retries: u32, base: Duration) -> Self {
        Self { retries, base }
    }

    /// How many times a call may be sent again.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The longest wait before retry `retry` (0 for the first):
    /// `base × 2^retry`, at most [`MAX_BACKOFF`].
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1_u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .map_or(MAX_BACKOFF, |wait| wait.min(MAX_BACKOFF))
    }

    /// How long to wait before retry `retry`: uniformly at random between
    /// zero and [`Self::ceiling`].
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(random() % ceiling.saturating_add(1))
    }
}

/// A random number for jitter; not for anything that must be unpredictable.
fn random() -> u64 {
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(DRAWS.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// Whether a failure may pass if the call is sent again: the backend was
/// unreachable (or said gRPC `UNAVAILABLE`), did not answer in time, or
/// answered HTTP 5xx.
pub fn is_transient(error: &SourceError) -> bool {
    match error {
        SourceError::Unavailable { .. } | SourceError::Timeout { .. } => true,
        SourceError::HttpStatus { status, .. } => (500..600).contains(status),
        _ => false,
    }
}

/// Whether a failure counts against the backend's health in its breaker:
/// the transient ones, and gRPC `INTERNAL`, `UNKNOWN` and `DATA_LOSS`. Any
/// other answer, even a 404, shows the backend is up.
pub fn is_backend_failure(error: &SourceError) -> bool {
    is_transient(error)
        || matches!(
            error,
            SourceError::GrpcStatus {
                status: "INTERNAL" | "UNKNOWN" | "DATA_LOSS",
                ..
            }
        )
}

/// The error of a call the open breaker of `source` refused.
pub fn refused(source: &str) -> SourceError {
    SourceError::Unavailable {
        source_name: source.to_owned(),
        detail: "circuit open: the call was not sent".to_owned(),
    }
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go through and their outcomes are counted.
    Closed,
    /// Calls are refused without being sent.
    Open,
    /// One probe call may go through; its outcome decides.
    HalfOpen,
}

impl CircuitState {
    /// The state as the `weft_source_circuit_state` gauge shows it.
    pub fn gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }
}

/// One source's circuit breaker; shared by every call to the source.
#[derive(Debug)]
pub struct Breaker {
    settings: Settings,
    inner: Mutex<Inner>,
    gauge: Gauge,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    error_rate: f64,
    slice: Duration,
    min_calls: u32,
    open: Duration,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    window: Window,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

impl Phase {
    fn state(self) -> CircuitState {
        match self {
            Self::Closed => CircuitState::Closed,
            Self::Open { .. } => CircuitState::Open,
            Self::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }
}

impl Breaker {
    /// A closed breaker with `config`'s settings.
    pub fn new(config: &BreakerConfig) -> Self {
        Self::starting_at(config, Instant::now())
    }

    fn starting_at(config: &BreakerConfig, origin: Instant) -> Self {
        let window = Duration::from_millis(config.window_ms);
        let slice = (window / 10).max(Duration::from_nanos(1));
        Self {
            settings: Settings {
                error_rate: config.error_rate,
                slice,
                min_calls: config.min_calls.max(1),
                open: Duration::from_millis(config.open_ms),
            },
            inner: Mutex::new(Inner {
                phase: Phase::Closed,
                window: Window::new(origin),
            }),
            gauge: Gauge::default(),
        }
    }

    /// Shows the state on `gauge` from now on.
    pub fn report_to(&mut self, gauge: Gauge) {
        gauge.set(self.state().gauge());
        self.gauge = gauge;
    }

    /// Where the breaker stands now.
    pub fn state(&self) -> CircuitState {
        self.lock().phase.state()
    }

    /// Lets a call through, or refuses it (`None`) while the breaker is open
    /// or its probe is in flight. The admission must be finished with the
    /// call's outcome.
    pub fn admit(&self) -> Option<Admission<'_>> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Option<Admission<'_>> {
        let mut inner = self.lock();
        let probe = match inner.phase {
            Phase::Closed => false,
            Phase::Open { until } if now < until => return None,
            Phase::HalfOpen { probing: true } => return None,
            Phase::Open { .. } | Phase::HalfOpen { probing: false } => {
                self.enter(&mut inner, Phase::HalfOpen { probing: true });
                true
            }
        };
        Some(Admission {
            breaker: self,
            probe,
            finished: false,
        })
    }

    fn finish_at(&self, probe: bool, failed: bool, now: Instant) {
        let mut inner = self.lock();
        if probe {
            inner.window.clear();
            let next = if failed {
                Phase::Open {
                    until: now + self.settings.open,
                }
            } else {
                Phase::Closed
            };
            self.enter(&mut inner, next);
            return;
        }
        if !matches!(inner.phase, Phase::Closed) {
            // Sent before the breaker opened; the probe decides now.
            return;
        }
        let (calls, failures) = inner.window.record(now, self.settings.slice, failed);
        let rate_reached = f64::from(failures) >= self.settings.error_rate * f64::from(calls);
        if calls >= self.settings.min_calls && rate_reached {
            inner.window.clear();
            let until = now + self.settings.open;
            self.enter(&mut inner, Phase::Open { until });
        }
    }

    /// A probe that ended without an outcome (its request was dropped): the
    /// next call probes instead.
    fn release_probe(&self) {
        let mut inner = self.lock();
        if matches!(inner.phase, Phase::HalfOpen { probing: true }) {
            inner.phase = Phase::HalfOpen { probing: false };
        }
    }

    fn enter(&self, inner: &mut Inner, phase: Phase) {
        let changed = inner.phase.state() != phase.state();
        inner.phase = phase;
        if changed {
            self.gauge.set(phase.state().gauge());
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A call the breaker let through; finish it with the call's outcome.
#[derive(Debug)]
pub struct Admission<'b> {
    breaker: &'b Breaker,
    probe: bool,
    finished: bool,
}

impl Admission<'_> {
    /// Whether this call is the half-open breaker's probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Records the call's outcome: `failed` when it failed in a way that
    /// counts against the backend ([`is_backend_failure`]).
    pub fn finish(self, failed: bool) {
        self.finish_at(failed, Instant::now());
    }

    fn finish_at(mut self, failed: bool, now: Instant) {
        self.finished = true;
        self.breaker.finish_at(self.probe, failed, now);
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if self.probe && !self.finished {
            self.breaker.release_probe();
        }
    }
}

/// Outcomes over the last [`SLICES`] slices of time.
#[derive(Debug)]
struct Window {
    origin: Instant,
    slices: [Slice; 10],
}

#[derive(Debug, Clone, Copy, Default)]
struct Slice {
    /// Which slice of time since `origin` the counts are of.
    index: u64,
    calls: u32,
    failures: u32,
}

impl Window {
    fn new(origin: Instant) -> Self {
        Self {
            origin,
            slices: [Slice::default(); 10],
        }
    }

    fn clear(&mut self) {
        self.slices = [Slice::default(); 10];
    }

    /// Counts one outcome at `now`; yields the calls and failures in the
    /// window that ends with it.
    fn record(&mut self, now: Instant, slice: Duration, failed: bool) -> (u32, u32) {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        let index = u64::try_from(elapsed / slice.as_nanos()).unwrap_or(u64::MAX);
        let position = usize::try_from(index % SLICES).unwrap_or_default();
        let current = &mut self.slices[position];
        if current.index != index {
            *current = Slice {
                index,
                ..Slice::default()
            };
        }
        current.calls = current.calls.saturating_add(1);
        current.failures = current.failures.saturating_add(u32::from(failed));
        self.slices
            .iter()
            .filter(|counted| index.saturating_sub(counted.index) < SLICES)
            .fold((0, 0), |(calls, failures), counted| {
                (
                    calls.saturating_add(counted.calls),
                    failures.saturating_add(counted.failures),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn config(min_calls: u32) -> BreakerConfig {
        BreakerConfig {
            error_rate: 0.5,
            window_ms: 1_000,
            min_calls,
            open_ms: 500,
        }
    }

    /// A breaker whose clock starts at the returned instant.
    fn breaker(min_calls: u32) -> (Breaker, Instant) {
        let start = Instant::now();
        (Breaker::starting_at(&config(min_calls), start), start)
    }

    fn call(breaker: &Breaker, at: Instant, failed: bool) -> bool {
        match breaker.admit_at(at) {
            Some(admission) => {
                admission.finish_at(failed, at);
                true
            }
            None => false,
        }
    }

    #[test]
    fn it_stays_closed_below_min_calls_whatever_the_failures() {
        let (breaker, start) = breaker(4);
        for i in 0..3 {
            assert!(call(&breaker, start + i * MS, true));
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn it_opens_at_min_calls_when_the_error_rate_is_reached() {
        let (breaker, start) = breaker(4);
        assert!(call(&breaker, start, false));
        assert!(call(&breaker, start + MS, false));
        assert!(call(&breaker, start + 2 * MS, true));
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert!(call(&breaker, start + 3 * MS, true));
        assert_eq!(breaker.state(), CircuitState::Open);
        assert!(
            breaker.admit_at(start + 4 * MS).is_none(),
            "refused while open"
        );
    }

    #[test]
    fn it_stays_closed_below_the_error_rate() {
        let (breaker, start) = breaker(4);
        for i in 0..20 {
            assert!(call(&breaker, start + i * MS, i % 3 == 1));
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let (breaker, start) = breaker(4);
        for i in 0..3 {
            assert!(call(&breaker, start + i * MS, true));
        }
        // A second later the three failures have left the 1 s window.
        let later = start + 1_100 * MS;
        assert!(call(&breaker, later, true));
        assert_eq!(breaker.state(), CircuitState::Closed);
        for i in 1..3 {
            assert!(call(&breaker, later + i * MS, true));
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert!(call(&breaker, later + 3 * MS, true));
        assert_eq!(breaker.state(), CircuitState::Open);
    }

    fn opened() -> (Breaker, Instant) {
        let (breaker, start) = breaker(2);
        assert!(call(&breaker, start, true));
        assert!(call(&breaker, start, true));
        assert_eq!(breaker.state(), CircuitState::Open);
        (breaker, start)
    }

    #[test]
    fn after_open_ms_one_probe_goes_through_and_its_success_closes() {
        let (breaker, start) = opened();
        assert!(breaker.admit_at(start + 499 * MS).is_none());
        let probe = breaker.admit_at(start + 500 * MS).expect("a probe");
        assert!(probe.is_probe());
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert!(
            breaker.admit_at(start + 501 * MS).is_none(),
            "one probe at a time"
        );
        probe.finish_at(false, start + 502 * MS);
        assert_eq!(breaker.state(), CircuitState::Closed);
        let next = breaker.admit_at(start + 503 * MS).expect("closed");
        assert!(!next.is_probe());
    }

    #[test]
    fn a_failed_probe_reopens_for_another_open_ms() {
        let (breaker, start) = opened();
        let probe = breaker.admit_at(start + 600 * MS).expect("a probe");
        probe.finish_at(true, start + 600 * MS);
        assert_eq!(breaker.state(), CircuitState::Open);
        assert!(breaker.admit_at(start + 1_099 * MS).is_none());
        assert!(breaker.admit_at(start + 1_100 * MS).is_some());
    }

    #[test]
    fn a_dropped_probe_lets_the_next_call_probe() {
        let (breaker, start) = opened();
        drop(breaker.admit_at(start + 500 * MS).expect("a probe"));
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        let probe = breaker.admit_at(start + 501 * MS).expect("another probe");
        assert!(probe.is_probe());
    }

    #[test]
    fn the_window_starts_empty_after_closing() {
        let (breaker, start) = opened();
        let probe = breaker.admit_at(start + 500 * MS).expect("a probe");
        probe.finish_at(false, start + 500 * MS);
        assert!(call(&breaker, start + 501 * MS, true));
        assert_eq!(
            breaker.state(),
            CircuitState::Closed,
            "one call < min_calls"
        );
    }

    #[test]
    fn calls_sent_before_it_opened_do_not_move_it() {
        let (breaker, start) = breaker(2);
        let late = breaker.admit_at(start).expect("closed");
        assert!(call(&breaker, start, true));
        assert!(call(&breaker, start, true));
        late.finish_at(false, start + MS);
        assert_eq!(breaker.state(), CircuitState::Open);
    }

    #[test]
    fn the_gauge_follows_the_state() {
        let (mut breaker, start) = breaker(2);
        let gauge = Gauge::default();
        breaker.report_to(gauge.clone());
        assert_eq!(gauge.get(), 0);
        assert!(call(&breaker, start, true));
        assert!(call(&breaker, start, true));
        assert_eq!(gauge.get(), 1);
        let probe = breaker.admit_at(start + 500 * MS).expect("a probe");
        assert_eq!(gauge.get(), 2);
        probe.finish_at(false, start + 500 * MS);
        assert_eq!(gauge.get(), 0);
    }

    #[test]
    fn the_backoff_grows_exponentially_up_to_the_cap() {
        let policy = RetryPolicy::new(5, 50 * MS);
        assert_eq!(policy.ceiling(0), 50 * MS);
        assert_eq!(policy.ceiling(1), 100 * MS);
        assert_eq!(policy.ceiling(3), 400 * MS);
        assert_eq!(policy.ceiling(6), MAX_BACKOFF);
        assert_eq!(policy.ceiling(40), MAX_BACKOFF);
        for retry in 0..8 {
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= policy.ceiling(retry));
            }
        }
        let draws: std::collections::HashSet<Duration> =
            (0..20).map(|_| policy.backoff(2)).collect();
        assert!(draws.len() > 1, "the wait is random: {draws:?}");
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let source_name = "s".to_owned();
        let status = |status| SourceError::HttpStatus {
            source_name: source_name.clone(),
            status,
        };
        assert!(is_transient(&status(503)));
        assert!(is_transient(&status(500)));
        assert!(!is_transient(&status(404)));
        assert!(!is_transient(&status(429)));
        assert!(is_transient(&refused("s")));
        assert!(is_transient(&SourceError::Timeout {
            source_name: source_name.clone(),
            timeout_ms: 1,
        }));
        let grpc = |status| SourceError::GrpcStatus {
            source_name: source_name.clone(),
            status,
            message: String::new(),
        };
        assert!(!is_transient(&grpc("INTERNAL")));
        assert!(is_backend_failure(&grpc("INTERNAL")));
        assert!(!is_backend_failure(&grpc("NOT_FOUND")));
        assert!(!is_backend_failure(&SourceError::BadResponse {
            source_name,
            reason: String::new(),
        }));
    }
}
