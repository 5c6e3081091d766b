//! What Linux reports of a process in `/proc`: CPU time, resident memory,
//! open file descriptors, start time. `/metrics` shows the gateway's own;
//! `weft bench` reads those of the processes it starts. Elsewhere than
//! Linux every figure is `None`.

/// Linux reports process CPU time in ticks of 1/100 s (`USER_HZ`).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// Which process: this one, or another by id.
#[derive(Debug, Clone, Copy)]
pub enum Pid {
    /// The calling process.
    Own,
    /// Another process.
    Of(u32),
}

impl Pid {
    fn path(self, file: &str) -> String {
        match self {
            Self::Own => format!("/proc/self/{file}"),
            Self::Of(pid) => format!("/proc/{pid}/{file}"),
        }
    }
}

/// The fields of `/proc/<pid>/stat` after the command name, from the
/// state (field 3) on.
fn stat_fields(pid: Pid) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(pid.path("stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    Some(
        after
            .split_whitespace()
            .map(|field| field.parse().unwrap_or(0))
            .collect(),
    )
}

/// User plus system CPU time, in ticks.
pub fn cpu_ticks(pid: Pid) -> Option<u64> {
    let fields = stat_fields(pid)?;
    // utime and stime are the 14th and 15th fields of the whole line.
    Some(fields.get(11)? + fields.get(12)?)
}

/// Resident memory, in KiB.
pub fn rss_kib(pid: Pid) -> Option<u64> {
    let status = std::fs::read_to_string(pid.path("status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// How many file descriptors are open.
pub fn open_fds(pid: Pid) -> Option<usize> {
    Some(std::fs::read_dir(pid.path("fd")).ok()?.count())
}

/// When the process started, in seconds since the Unix epoch.
pub fn start_time_seconds(pid: Pid) -> Option<f64> {
    // starttime, the 22nd field, counts ticks since boot.
    let started = *stat_fields(pid)?.get(19)?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    #[allow(clippy::cast_precision_loss)]
    Some(boot as f64 + started as f64 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_memory_and_descriptors() {
        let spin: u64 = (0..5_000_000_u64).fold(0, |sum, n| sum.wrapping_add(n * n));
        assert!(spin > 0);
        assert!(cpu_ticks(Pid::Own).is_some());
        assert!(rss_kib(Pid::Own).is_some_and(|kib| kib > 0));
        assert!(open_fds(Pid::Own).is_some_and(|fds| fds >= 3));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = start_time_seconds(Pid::Own).unwrap();
        assert!(
            started <= now + 1.0 && started > now - 3600.0,
            "{started} vs {now}"
        );
    }
}
