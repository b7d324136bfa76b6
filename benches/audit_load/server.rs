//! The `lift serve` process under load: starting it (and killing it on drop), and reading its
//! RSS, open files, open-file limit and CPU time from `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::SECRET;

const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Kills the server when dropped (also while unwinding from a panic).
pub struct ServerGuard {
    child: Child,
    pub log: PathBuf,
}

impl ServerGuard {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` when the server has already exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last 20 lines of the server log at `path`.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn server_binary() -> PathBuf {
    // `LOAD_LIFT_BIN` runs another build of the server under the same script (e.g. a copy of the
    // binary before a change, for alternating before/after runs).
    if let Some(binary) = std::env::var_os("LOAD_LIFT_BIN") {
        return PathBuf::from(binary);
    }
    // Cargo sets this for benches and integration tests of a package with a `lift` binary, and
    // builds that binary (with the bench profile) first.
    PathBuf::from(env!("CARGO_BIN_EXE_lift"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// `VmRSS` of `pid` in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn open_files(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

pub fn max_open_files(pid: u32) -> Option<String> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line.split_whitespace().skip(3);
    Some(format!("{}/{}", fields.next()?, fields.next()?))
}

pub async fn start_server(url: &str, dir: &Path, fd_limit: u64) -> (ServerGuard, u16) {
    let port = free_port();
    let log = dir.join("server.log");
    let out = std::fs::File::create(&log).expect("server log file");
    let err = out.try_clone().expect("server log file");
    // The server inherits this process's (raised) open-file limit; `ulimit` in the shell also
    // tries to lift it when this process could not, and is harmless otherwise.
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {fd_limit} 2>/dev/null || ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$0\" \"$@\""
        ))
        .arg(server_binary())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", url])
        .env("LIFT_JWT_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn lift serve");
    let mut guard = ServerGuard { child, log };
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Some(status) = guard.exited() {
            panic!(
                "lift serve exited during start-up ({status}); log {}:\n{}",
                guard.log.display(),
                guard.log_tail()
            );
        }
        let ready = http
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .json(&json!({"query": "{ __typename }"}))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return (guard, port);
        }
        if started.elapsed() > SERVER_START_TIMEOUT {
            panic!(
                "lift serve not ready after {SERVER_START_TIMEOUT:?}; log {}:\n{}",
                guard.log.display(),
                guard.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
