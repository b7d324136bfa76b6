//! One run of the scenario, phase by phase: seed, start the server, connect the N subscribers,
//! the barrier that proves them live, the M measured mutations, the drain; then the report.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::common;
use crate::common::cpu_seconds;
use crate::http::{run_mutations_apart, Http};
use crate::report::{self, mib, Measurements};
use crate::server::{max_open_files, open_files, rss_bytes, start_server};
use crate::subscriber::{subscriber, Outcome, Shared, CONNECT_TIMEOUT};
use crate::Config;

const ADMIN: &str = "audit-load@example.com";
const BARRIER_ATTEMPTS: usize = 30;
const BARRIER_WAIT: Duration = Duration::from_secs(5);

/// Runs the scenario; returns the exit code: 0 when clean, 1 when an event was lost, duplicated
/// or foreign, 3 when delivery was exact but mutations or connections failed.
pub async fn run(config: &Config, dir: PathBuf, url: String) -> i32 {
    let n = config.subscribers;
    let m = config.mutations;
    let wall = Instant::now();
    let token = seed(&url).await;
    let (mut server, port) = start_server(&url, &dir, config.fd_limit).await;
    let pid = server.pid();
    println!(
        "server pid {pid} on 127.0.0.1:{port}, open-file limit {}, log {}",
        max_open_files(pid).unwrap_or_else(|| "?".into()),
        server.log.display()
    );
    let http = Arc::new(Http {
        url: format!("http://127.0.0.1:{port}/graphql"),
        token: token.clone(),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(config.concurrency)
            .build()
            .expect("http client"),
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_bytes(pid).unwrap_or(0);

    let shared = Arc::new(Shared::new(n));
    let stop = CancellationToken::new();
    let connect_started = Instant::now();
    let tasks = connect_subscribers(config, &shared, &stop, token, port).await;
    let subscribed = shared.subscribed.load(Ordering::Relaxed);
    let connect_time = connect_started.elapsed();
    println!(
        "subscribed {subscribed}/{n} in {:.1} s",
        connect_time.as_secs_f64()
    );

    let barrier = barrier(&http, &shared).await;
    let live = shared.live.load(Ordering::Relaxed);
    let barrier_sequence = match http.newest_sequence().await {
        Ok(s) => s,
        Err(err) => panic!("reading the barrier's sequence: {err}"),
    };
    shared.barrier.store(barrier_sequence, Ordering::Release);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_bytes(pid).unwrap_or(0);
    let fds = open_files(pid);
    println!(
        "live {live}/{subscribed} after {} barrier mutation(s){}; server RSS {:.1} MiB → {:.1} MiB, {} open files",
        barrier.sent,
        if barrier.all_live { "" } else { " (NOT all live)" },
        mib(rss_before),
        mib(rss_after),
        fds.map(|f| f.to_string()).unwrap_or_else(|| "?".into())
    );

    // The measured phase.
    let cpu_start = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
    let mutations = run_mutations_apart(&http, m, config.concurrency, config.rate).await;
    println!(
        "{m} mutations in {:.2} s ({} errors)",
        mutations.wall.as_secs_f64(),
        mutations.errors.len()
    );
    // What must be delivered: the audit rows committed after the barrier (every mutation has
    // answered, so every commit is done; a failed mutation commits nothing).
    let committed = match http
        .sequences_above(barrier_sequence, m / 100 + 2 + BARRIER_ATTEMPTS)
        .await
    {
        Ok(s) => s,
        Err(err) => {
            println!("could not read the committed audit rows back: {err}; expecting {m}");
            Vec::new()
        }
    };
    let target = if committed.is_empty() && mutations.errors.len() < m {
        m - mutations.errors.len()
    } else {
        committed.len()
    };
    let drain_started = Instant::now();
    let drained = drain(config, &tasks, &shared, target).await;
    let drain_time = drain_started.elapsed();
    let cpu_end = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
    let rss_end = rss_bytes(pid).unwrap_or(0);
    let server_exit = server.exited();
    let server_metrics = server_metrics(&http, port).await;
    stop.cancel();
    let outcomes = collect(tasks).await;
    let server_log = server.log.clone();
    drop(server);

    report::print(
        config,
        Measurements {
            wall,
            subscribed,
            all_live: barrier.all_live,
            connect_time,
            barrier_errors: barrier.errors,
            mutations,
            committed,
            target,
            outcomes,
            drained,
            drain_time,
            cpu_start,
            cpu_end,
            rss_before,
            rss_after,
            rss_end,
            server_metrics,
            server_exit,
            server_log,
        },
    )
}

/// Migrates, creates organisation/project/environment `load` and an admin user; returns a token.
async fn seed(url: &str) -> String {
    let db = lift::startup::connect_and_migrate(url)
        .await
        .expect("migrate");
    common::seed(&db, "Audit load", ADMIN).await;
    db.close().await.ok();
    common::issue_token(url, ADMIN, Duration::from_secs(6 * 3600))
}

/// Waits until `done()` or `timeout`, polling every 100 ms; returns whether it became true.
async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

/// Starts the N subscribers, `connect_concurrency` handshakes at a time, and waits until each
/// has subscribed or failed.
async fn connect_subscribers(
    config: &Config,
    shared: &Arc<Shared>,
    stop: &CancellationToken,
    token: String,
    port: u16,
) -> Vec<JoinHandle<Outcome>> {
    let n = config.subscribers;
    let gate = Arc::new(Semaphore::new(config.connect_concurrency.max(1)));
    let token = Arc::new(token);
    let ws_url = format!("ws://127.0.0.1:{port}/graphql");
    let tasks: Vec<_> = (0..n)
        .map(|index| {
            let readers = config
                .readers
                .clone()
                .unwrap_or_else(tokio::runtime::Handle::current);
            readers.spawn(subscriber(
                index,
                ws_url.clone(),
                token.clone(),
                gate.clone(),
                shared.clone(),
                config.mutations,
                stop.clone(),
            ))
        })
        .collect();
    // Bounded: every connection attempt times out on its own; this only watches progress.
    let connect_budget = CONNECT_TIMEOUT * 2 * (n / config.connect_concurrency.max(1) + 2) as u32;
    let mut last_report = Instant::now();
    wait_until(connect_budget, || {
        let subscribed = shared.subscribed.load(Ordering::Relaxed);
        let failed = tasks.iter().filter(|t| t.is_finished()).count();
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            println!("  … {subscribed}/{n} subscribed, {failed} failed");
        }
        subscribed + failed >= n
    })
    .await;
    tasks
}

struct Barrier {
    /// Barrier mutations sent.
    sent: usize,
    /// Why barrier mutations failed.
    errors: Vec<String>,
    /// Every subscribed subscriber received an event.
    all_live: bool,
}

/// Mutates until every subscriber has received an event, proof that all are live.
async fn barrier(http: &Http, shared: &Shared) -> Barrier {
    let mut barrier = Barrier {
        sent: 0,
        errors: Vec::new(),
        all_live: false,
    };
    for attempt in 0..BARRIER_ATTEMPTS {
        barrier.sent += 1;
        if let Err(err) = http.create_metric(&format!("barrier {attempt}")).await {
            barrier.errors.push(err);
        }
        let target = shared.subscribed.load(Ordering::Relaxed);
        barrier.all_live = wait_until(BARRIER_WAIT, || {
            shared.live.load(Ordering::Relaxed) >= target
        })
        .await;
        if barrier.all_live {
            break;
        }
    }
    barrier
}

/// Waits (at most the drain timeout) until every subscriber holds all `target` committed events
/// or its connection has ended; returns whether that happened in time.
async fn drain(
    config: &Config,
    tasks: &[JoinHandle<Outcome>],
    shared: &Shared,
    target: usize,
) -> bool {
    let n = config.subscribers;
    let mut last_report = Instant::now();
    wait_until(config.drain, || {
        let done = tasks
            .iter()
            .zip(&shared.received)
            .filter(|(task, count)| task.is_finished() || count.load(Ordering::Relaxed) >= target)
            .count();
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            println!(
                "  … {done}/{n} subscribers complete, {} events delivered",
                shared.delivered.load(Ordering::Relaxed)
            );
        }
        done >= n
    })
    .await
}

/// Counters the server exposes at `/metrics` (e.g. catch-ups of subscribers that fell behind the
/// buffer), one `name value` line each; none when they cannot be read.
async fn server_metrics(http: &Http, port: u16) -> Vec<String> {
    match http
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r
            .text()
            .await
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The subscribers' outcomes once stopped (a task that failed or does not stop within 30 s
/// counts as a subscriber error).
async fn collect(tasks: Vec<JoinHandle<Outcome>>) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(outcome)) => outcomes.push(outcome),
            Ok(Err(err)) => outcomes.push(Outcome {
                error: Some(format!("subscriber task failed: {err}")),
                ..Default::default()
            }),
            Err(_) => outcomes.push(Outcome {
                error: Some("subscriber task did not stop".into()),
                ..Default::default()
            }),
        }
    }
    outcomes
}
