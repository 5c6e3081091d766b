//! `weft bench subscribers`: what one WebSocket subscriber costs the
//! gateway in memory.
//!
//! The example services and `weft serve` run as separate processes, as in
//! [`super::queries`]. Clients open `count` WebSocket connections, each
//! with one `announcements` subscription, and keep them open; the gateway's
//! resident memory is read before and after, once it has settled.

use std::time::Duration;

use super::queries;
use crate::process::{self, Pid};

/// What the run saw.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Subscribers opened.
    pub count: usize,
    /// The gateway's resident memory before, in KiB.
    pub before_kib: u64,
    /// The gateway's resident memory with every subscriber open, in KiB.
    pub after_kib: u64,
}

impl Report {
    /// Resident memory per subscriber, in KiB.
    #[allow(clippy::cast_precision_loss)]
    pub fn per_subscriber_kib(&self) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 / self.count.max(1) as f64
    }
}

/// Opens `count` subscribers and measures.
pub async fn run(count: usize) -> Result<Report, String> {
    let (_services, urls) = queries::start_services()?;
    let dir = queries::write_config(&urls)?;
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let (gateway, addr) = queries::start_gateway(&exe, &dir.0, false)?;
    let pid = Pid::Of(gateway.0.id());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_kib = process::rss_kib(pid).ok_or("cannot read the gateway's memory")?;
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        sockets.push(super::subscribe_to_announcements(addr, None).await?);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after_kib = process::rss_kib(pid).ok_or("cannot read the gateway's memory")?;
    drop(sockets);
    Ok(Report {
        count,
        before_kib,
        after_kib,
    })
}

/// The report as a Markdown table.
pub fn table(report: &Report) -> String {
    format!(
        "gateway as its own process; {} WebSocket subscribers of `announcements`\n\n| subscribers | gateway RSS before | with them open | per subscriber |\n|---:|---:|---:|---:|\n| {} | {:.1} MiB | {:.1} MiB | {:.1} KiB |\n",
        report.count,
        report.count,
        f64::from(u32::try_from(report.before_kib).unwrap_or(u32::MAX)) / 1024.0,
        f64::from(u32::try_from(report.after_kib).unwrap_or(u32::MAX)) / 1024.0,
        report.per_subscriber_kib(),
    )
}
