//! The figures of a run: tallying what the subscribers received against the committed audit
//! rows, printing the report and choosing the exit code.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::common::quantile;
use crate::http::MutationReport;
use crate::server::log_tail;
use crate::subscriber::Outcome;
use crate::Config;

/// Connection errors printed in full (the rest are counted).
const ERRORS_SHOWN: usize = 5;

/// What a run measured, for [`print`].
pub struct Measurements {
    /// When the run started.
    pub wall: Instant,
    pub subscribed: usize,
    /// Every subscriber received a barrier event before the measured mutations.
    pub all_live: bool,
    pub connect_time: Duration,
    pub barrier_errors: Vec<String>,
    pub mutations: MutationReport,
    /// Sequences of the audit rows committed after the barrier.
    pub committed: Vec<i64>,
    /// Events each subscriber must receive.
    pub target: usize,
    pub outcomes: Vec<Outcome>,
    /// Every subscriber completed before the drain timeout.
    pub drained: bool,
    pub drain_time: Duration,
    /// CPU seconds of (server, this script) before the mutations and after the drain.
    pub cpu_start: (Option<f64>, Option<f64>),
    pub cpu_end: (Option<f64>, Option<f64>),
    pub rss_before: u64,
    pub rss_after: u64,
    pub rss_end: u64,
    pub server_metrics: Vec<String>,
    /// `Some` when the server exited before the end of the run.
    pub server_exit: Option<ExitStatus>,
    pub server_log: PathBuf,
}

/// The subscribers' deliveries, counted.
#[derive(Default)]
struct Tally {
    /// Latency of every delivery in µs, sorted.
    latencies: Vec<i64>,
    /// Per event, latency of its first and of its last delivery, sorted.
    first: Vec<i64>,
    last: Vec<i64>,
    delivered: usize,
    distinct: usize,
    unexpected: usize,
    out_of_order: usize,
    bad: usize,
    /// Subscribers holding fewer than the expected events.
    short: usize,
    /// The first [`ERRORS_SHOWN`] subscriber errors.
    errors: Vec<String>,
    error_count: usize,
    /// A subscriber failed for lack of file descriptors.
    emfile: bool,
}

fn tally(outcomes: &[Outcome], committed: &[i64], target: usize) -> Tally {
    let committed_set: HashSet<i64> = committed.iter().copied().collect();
    // Per event: latency of its first and of its last delivery.
    let mut spread: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut t = Tally::default();
    for outcome in outcomes {
        let mut seen = HashSet::with_capacity(outcome.deliveries.len());
        for &(sequence, latency) in &outcome.deliveries {
            t.delivered += 1;
            t.latencies.push(latency);
            let range = spread.entry(sequence).or_insert((latency, latency));
            *range = (range.0.min(latency), range.1.max(latency));
            if !committed_set.contains(&sequence) {
                t.unexpected += 1;
            } else if seen.insert(sequence) {
                t.distinct += 1;
            }
        }
        if seen.len() < target {
            t.short += 1;
        }
        t.out_of_order += outcome.out_of_order;
        t.bad += outcome.bad_messages;
        if let Some(error) = &outcome.error {
            t.error_count += 1;
            t.emfile |= error.contains("Too many open files") || error.contains("os error 24");
            if t.errors.len() < ERRORS_SHOWN {
                t.errors.push(error.clone());
            }
        }
    }
    t.latencies.sort_unstable();
    t.first = spread.values().map(|r| r.0).collect();
    t.last = spread.values().map(|r| r.1).collect();
    t.first.sort_unstable();
    t.last.sort_unstable();
    t
}

/// Prints the report; returns the exit code: 0 when clean, 1 when an event was lost, duplicated
/// or foreign, 3 when delivery was exact but mutations or connections failed.
pub fn print(config: &Config, mut run: Measurements) -> i32 {
    let n = config.subscribers;
    let m = config.mutations;
    let t = tally(&run.outcomes, &run.committed, run.target);
    let expected = n * run.target;
    let lost = expected.saturating_sub(t.distinct);
    let duplicates = t.delivered - t.distinct - t.unexpected;
    let mut mutation_latencies = std::mem::take(&mut run.mutations.latencies);
    let mutations = &run.mutations;
    mutation_latencies.sort_unstable();
    let mutation_us = |q: f64| quantile(&mutation_latencies, q).map(|d| d.as_micros() as i64);
    let cpu = |start: Option<f64>, end: Option<f64>| match (start, end) {
        (Some(a), Some(b)) => format!("{:.1} s", b - a),
        _ => "?".into(),
    };

    println!();
    println!("== audit_load: {} ==", config.backend);
    println!(
        "subscribers           {n} (subscribed {}, all live before mutations: {})",
        run.subscribed, run.all_live
    );
    println!(
        "mutations             {m} from {} clients in {:.2} s ({:.1}/s), latency p50 {} p99 {}, failed {}",
        config.concurrency,
        mutations.wall.as_secs_f64(),
        m as f64 / mutations.wall.as_secs_f64().max(1e-9),
        ms(mutation_us(0.50)),
        ms(mutation_us(0.99)),
        mutations.errors.len()
    );
    println!(
        "audit rows committed  {} after the barrier{}",
        run.committed.len(),
        if run.committed.len() == m - mutations.errors.len().min(m) {
            " (= successful mutations)".to_owned()
        } else {
            format!(
                " (MISMATCH: {} mutations succeeded)",
                m - mutations.errors.len().min(m)
            )
        }
    );
    println!(
        "events expected       {expected} (N × committed rows; N × M = {})",
        n * m
    );
    println!("delivered             {}", t.delivered);
    println!("distinct delivered    {}", t.distinct);
    println!("lost                  {lost}");
    println!("duplicates            {duplicates}");
    println!(
        "unexpected            {} (sequences not committed in the measured phase)",
        t.unexpected
    );
    println!("out of order          {}", t.out_of_order);
    println!("subscribers short     {}", t.short);
    println!(
        "delivery latency      p50 {}  p99 {}  max {}  (all deliveries)",
        ms(quantile(&t.latencies, 0.50)),
        ms(quantile(&t.latencies, 0.99)),
        ms(t.latencies.last().copied())
    );
    println!(
        "per event             first delivery p50 {} p99 {}; last delivery p50 {} p99 {}",
        ms(quantile(&t.first, 0.50)),
        ms(quantile(&t.first, 0.99)),
        ms(quantile(&t.last, 0.50)),
        ms(quantile(&t.last, 0.99))
    );
    println!(
        "drain                 {:.2} s after the last mutation{}",
        run.drain_time.as_secs_f64(),
        if run.drained {
            String::new()
        } else {
            format!(" (TIMED OUT after {:?})", config.drain)
        }
    );
    println!(
        "CPU (mutations+drain) server {}, load script {}",
        cpu(run.cpu_start.0, run.cpu_end.0),
        cpu(run.cpu_start.1, run.cpu_end.1)
    );
    println!(
        "server RSS            before {:.1} MiB, subscribed {:.1} MiB, end {:.1} MiB",
        mib(run.rss_before),
        mib(run.rss_after),
        mib(run.rss_end)
    );
    println!(
        "RSS per subscriber    {:.0} bytes ((subscribed − before) / {n})",
        run.rss_after.saturating_sub(run.rss_before) as f64 / n.max(1) as f64
    );
    println!(
        "connect time          {:.1} s ({} at a time)",
        run.connect_time.as_secs_f64(),
        config.connect_concurrency
    );
    println!(
        "wall time             {:.1} s",
        run.wall.elapsed().as_secs_f64()
    );
    for line in &run.server_metrics {
        println!("server /metrics       {line}");
    }
    if !run.barrier_errors.is_empty() {
        println!("barrier errors        {:?}", run.barrier_errors);
    }
    for error in mutations.errors.iter().take(ERRORS_SHOWN) {
        println!("mutation error        {error}");
    }
    if t.bad > 0 {
        println!("unreadable messages   {}", t.bad);
    }
    if t.error_count > 0 {
        println!("subscriber errors     {}, e.g.:", t.error_count);
        for error in &t.errors {
            println!("    {error}");
        }
    }
    if t.emfile {
        println!(
            "ERROR: connections failed with EMFILE (too many open files): raise the limit, e.g. \
             `ulimit -n 65536`, before running this script"
        );
    }
    if let Some(status) = run.server_exit {
        println!(
            "ERROR: the server exited during the run ({status}); log tail:\n{}",
            log_tail(&run.server_log)
        );
    }
    let delivery_ok = lost == 0 && duplicates == 0 && t.unexpected == 0;
    let run_ok = mutations.errors.is_empty()
        && t.error_count == 0
        && run.server_exit.is_none()
        && run.all_live
        && run.subscribed == n;
    println!(
        "result                delivery {}, run {}",
        if delivery_ok { "PASS" } else { "FAIL" },
        if run_ok {
            "clean"
        } else {
            "NOT CLEAN (failed mutations, subscriber errors or server exit: see above)"
        }
    );
    match (delivery_ok, run_ok) {
        (true, true) => 0,
        (false, _) => 1,
        (true, false) => 3,
    }
}

/// `us` microseconds as milliseconds, or `-` when there is no figure.
fn ms(us: Option<i64>) -> String {
    us.map(|us| format!("{:.2} ms", us as f64 / 1e3))
        .unwrap_or_else(|| "-".into())
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
