//! Measuring a processing process from outside, over its whole life (JVM start-up included): its
//! CPU seconds (user + system, from `wait4`), its peak resident memory (`VmHWM`, read every 20 ms),
//! its one JSON line of results; and percentiles of a sample.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A process started by the harness.
#[derive(Debug)]
pub struct Process {
    child: Child,
    /// When it was spawned.
    pub started: Instant,
    stdout: Option<std::thread::JoinHandle<String>>,
    /// The highest `VmHWM` read so far (bytes), by a thread reading it every 20 ms.
    peak_rss: Arc<AtomicU64>,
}

/// The process's peak resident set size so far (`VmHWM` in `/proc/<pid>/status`), bytes.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// What a process left behind when it exited.
#[derive(Debug, Clone)]
pub struct Exit {
    /// The exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
    /// User + system CPU seconds over its life.
    pub cpu_seconds: f64,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
    /// The last line it printed on stdout, parsed as JSON (`Null` if none or not JSON).
    pub json: serde_json::Value,
    /// Its stdout, all of it.
    pub stdout: String,
}

impl Process {
    /// Spawns `command` with stdout captured (its JSON line) and stderr appended to `log`.
    ///
    /// # Errors
    /// The program cannot be started or the log opened.
    pub fn spawn(mut command: Command, log: &std::path::Path) -> std::io::Result<Process> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .stdin(Stdio::null());
        let started = Instant::now();
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().map(|out| {
            std::thread::spawn(move || {
                let mut text = String::new();
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    text.push_str(&line);
                    text.push('\n');
                }
                text
            })
        });
        // Peak RSS from VmHWM, not from wait4: a child's ru_maxrss starts from its parent's RSS at
        // the fork, so every process of a large harness would report the harness's own size.
        let peak_rss = Arc::new(AtomicU64::new(0));
        {
            let (peak_rss, pid) = (peak_rss.clone(), child.id());
            std::thread::spawn(move || {
                while let Some(hwm) = vm_hwm(pid) {
                    peak_rss.fetch_max(hwm, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        Ok(Process {
            child,
            started,
            stdout,
            peak_rss,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while it has not exited (without reaping it).
    pub fn running(&self) -> bool {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid with WNOWAIT only inspects the child's state and writes `info`.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                self.child.id() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: si_pid is valid to read after a successful waitid.
        rc == 0 && unsafe { info.si_pid() } == 0
    }

    /// Sends SIGTERM (the processes close cleanly and print their results on it).
    pub fn terminate(&self) {
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
    }

    /// Waits for the process to exit (SIGKILL after `timeout`) and collects its resource usage and
    /// output.
    pub fn wait(mut self, timeout: Duration) -> Exit {
        let deadline = Instant::now() + timeout;
        while self.running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.running() {
            eprintln!("process {} did not exit in {timeout:?}: killed", self.child.id());
            let _ = self.child.kill();
        }
        // The last reading before the process is reaped (a zombie has no VmHWM left).
        if let Some(hwm) = vm_hwm(self.child.id()) {
            self.peak_rss.fetch_max(hwm, Ordering::Relaxed);
        }
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child, writing into locals; std's Child is not waited on after.
        let pid = unsafe { libc::wait4(self.child.id() as libc::pid_t, &mut status, 0, &mut usage) };
        let code = if pid > 0 && libc::WIFEXITED(status) {
            Some(libc::WEXITSTATUS(status))
        } else {
            None
        };
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        let stdout = self.stdout.take().and_then(|h| h.join().ok()).unwrap_or_default();
        let json = stdout
            .lines()
            .rev()
            .find(|line| line.trim_start().starts_with('{'))
            .and_then(|line| serde_json::from_str(line).ok())
            .unwrap_or(serde_json::Value::Null);
        Exit {
            code,
            cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
            peak_rss_bytes: self.peak_rss.load(Ordering::Relaxed),
            json,
            stdout,
        }
    }
}

/// The `q` quantile (0..=1) of `values` by the nearest-rank method; `None` when empty.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

/// The median of the values present; `None` when there are none.
pub fn median(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut present: Vec<f64> = values.into_iter().flatten().collect();
    if present.is_empty() {
        return None;
    }
    present.sort_by(f64::total_cmp);
    let n = present.len();
    Some(if n % 2 == 1 {
        present[n / 2]
    } else {
        (present[n / 2 - 1] + present[n / 2]) / 2.0
    })
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A line describing this machine: OS, architecture, cores, CPU model, memory.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or_else(String::new, |kb| format!(", {:.0} GiB", kb / 1024.0 / 1024.0));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{} {}, {cores} cores ({cpu}){memory}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut values, 0.5), Some(50.0));
        assert_eq!(quantile(&mut values, 0.99), Some(99.0));
        assert_eq!(quantile(&mut values, 1.0), Some(100.0));
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(quantile(&mut [7.0], 0.99), Some(7.0));
    }

    #[test]
    fn medians_skip_missing_values() {
        assert_eq!(median([Some(3.0), None, Some(1.0), Some(2.0)]), Some(2.0));
        assert_eq!(median([Some(1.0), Some(4.0)]), Some(2.5));
        assert_eq!(median([None]), None);
    }

    #[test]
    fn a_process_reports_its_json_line_cpu_and_memory() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo noise; echo '{\"ok\": true}'; sleep 0.3"]);
        let log = tempfile::NamedTempFile::new().unwrap();
        let process = Process::spawn(command, log.path()).unwrap();
        let exit = process.wait(Duration::from_secs(30));
        assert_eq!(exit.code, Some(0));
        assert_eq!(exit.json["ok"], serde_json::Value::Bool(true));
        assert!(exit.peak_rss_bytes > 0);
        assert!(exit.cpu_seconds >= 0.0);
    }

    #[test]
    fn terminate_stops_a_running_process() {
        let mut command = Command::new("sleep");
        command.arg("30");
        let log = tempfile::NamedTempFile::new().unwrap();
        let process = Process::spawn(command, log.path()).unwrap();
        assert!(process.running());
        process.terminate();
        let exit = process.wait(Duration::from_secs(10));
        assert_eq!(exit.code, None, "ended by the signal");
    }
}
