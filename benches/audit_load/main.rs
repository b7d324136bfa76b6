//! Load script (not a test) for the live audit stream: starts `lift serve` as a separate process
//! on a fresh database, opens N WebSocket subscribers (`graphql-transport-ws`) to
//! `auditLogCreated`, sends M `createMetric` mutations from a few concurrent HTTP clients, and
//! reports delivery latency, events lost, duplicates, out-of-order deliveries and the server's
//! RSS per subscriber. Exits non-zero when an event is lost or duplicated.
//!
//! ```sh
//! cargo bench --bench audit_load                                  # SQLite, 10,000 × 200
//! LOAD_SUBSCRIBERS=100 LOAD_MUTATIONS=20 cargo bench --bench audit_load
//! LOAD_BACKEND=postgres cargo bench --bench audit_load
//! ```
//!
//! Settings (environment): `LOAD_BACKEND` (`sqlite` | `postgres`, default sqlite),
//! `LOAD_SUBSCRIBERS` (10000), `LOAD_MUTATIONS` (200), `LOAD_CONCURRENCY` (8 HTTP clients),
//! `LOAD_RATE` (mutations per second, spread evenly; 0, the default: as fast as answered),
//! `LOAD_CONNECT_CONCURRENCY` (200 handshakes at a time), `LOAD_DRAIN_SECONDS` (60),
//! `LOAD_LIFT_BIN` (the server binary to run; default: this build's `lift`), `LOAD_READER_NICE`
//! (0: the niceness of the threads that read the N subscribers' sockets, Linux; see below).
//! Exit status: 0 when clean; 1 when an event was lost, duplicated or foreign to the environment;
//! 3 when delivery was exact but mutations failed, a subscriber could not connect or stay
//! connected, or the server exited; 2 when the script itself failed.
//! The server inherits this process's environment, so `LIFT_*` settings (e.g. `LIFT_AUDIT_BUFFER`)
//! reach it.
//! PostgreSQL is `LIFT_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! the script creates its own database there and drops it at the end.
//!
//! Each subscriber is one connection (one file descriptor here and one in the server). The script
//! raises its open-file limit to what N needs (up to the hard limit, or beyond when allowed), and
//! the server inherits it; if that is not enough, run `ulimit -n 65536` first.
//!
//! Method: after every subscriber is connected and subscribed, "barrier" mutations are sent until
//! every subscriber has received one (proof that all subscriptions are live); the server's RSS is
//! read before the first connection and after that barrier. Then the M mutations run. The expected
//! events are the audit rows committed after the barrier, read back from `Environment.auditLogs`
//! (a mutation that fails commits no row and must deliver nothing); the script waits until every
//! subscriber holds all of them or the drain timeout passes. Delivery latency is receive time
//! minus the entry's `createdAt` (both clocks are this machine's), so it includes commit, fan-out
//! and this process's own scheduling of N sockets on the same cores as the server.
//!
//! Those readers stand for clients on other machines, but here they share the server's cores and
//! use more CPU than it does (the report's `CPU` line). `LOAD_READER_NICE=19` lowers their priority,
//! so that what the mutation rate under fan-out measures is the server rather than this script.

#[path = "../common/mod.rs"]
mod common;
mod fd_limit;
mod http;
mod report;
mod scenario;
mod server;
mod subscriber;

use std::path::Path;
use std::time::Duration;

use common::{env_or, LoadDatabase};

/// The settings of a run, from the environment (see the top of this file).
struct Config {
    backend: String,
    subscribers: usize,
    mutations: usize,
    concurrency: usize,
    /// Mutations per second (0: as fast as the clients get answers).
    rate: f64,
    connect_concurrency: usize,
    drain: Duration,
    fd_limit: u64,
    reader_nice: i32,
    /// Where the subscribers run: a runtime of their own when `reader_nice` > 0 (a thread
    /// inherits its creator's niceness, so the server and the mutation thread, started from the
    /// main runtime, keep theirs).
    readers: Option<tokio::runtime::Handle>,
}

/// A fresh database: SQLite in `dir`, or a new PostgreSQL database.
async fn database(backend: &str, dir: &Path) -> LoadDatabase {
    if backend == "sqlite" {
        return LoadDatabase::sqlite(dir);
    }
    assert_eq!(
        backend, "postgres",
        "LOAD_BACKEND must be sqlite or postgres"
    );
    LoadDatabase::postgres(format!("lift_audit_load_{}", uuid::Uuid::now_v7().simple())).await
}

fn main() {
    // `cargo bench` passes `--bench`; this script takes its settings from the environment.
    let config = Config {
        backend: env_or("LOAD_BACKEND", "sqlite".to_owned()),
        subscribers: env_or("LOAD_SUBSCRIBERS", 10_000),
        mutations: env_or("LOAD_MUTATIONS", 200),
        concurrency: env_or("LOAD_CONCURRENCY", 8),
        rate: env_or("LOAD_RATE", 0.0),
        connect_concurrency: env_or("LOAD_CONNECT_CONCURRENCY", 200),
        drain: Duration::from_secs(env_or("LOAD_DRAIN_SECONDS", 60)),
        fd_limit: 0,
        reader_nice: env_or("LOAD_READER_NICE", 0),
        readers: None,
    };
    let want = config.subscribers as u64 + 1024;
    let config = match fd_limit::raise(want) {
        Some((soft, hard)) => {
            if soft < want {
                eprintln!(
                    "warning: open-file limit {soft} (hard {hard}) is below the {want} that \
                     {} subscribers need; run `ulimit -n 65536` first",
                    config.subscribers
                );
            }
            Config {
                fd_limit: soft.max(want),
                ..config
            }
        }
        None => {
            eprintln!(
                "note: could not read the open-file limit here; if connections fail with \
                 \"Too many open files\", run `ulimit -n 65536` first"
            );
            Config {
                fd_limit: want,
                ..config
            }
        }
    };
    println!(
        "lift audit load: backend {}, {} subscribers, {} mutations from {} clients, {}, readers at niceness {}",
        config.backend,
        config.subscribers,
        config.mutations,
        config.concurrency,
        match config.rate {
            r if r > 0.0 => format!("paced at {r}/s"),
            _ => "as fast as answered".to_owned(),
        },
        config.reader_nice
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let reader_nice = config.reader_nice;
    let readers = (reader_nice > 0).then(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("load-readers")
            .on_thread_start(move || lift::subscription_runtime::lower_priority(reader_nice))
            .enable_all()
            .build()
            .expect("readers' runtime")
    });
    let config = Config {
        readers: readers.as_ref().map(|r| r.handle().clone()),
        ..config
    };
    let dir = std::env::temp_dir()
        .join("lift-audit-load")
        .join(uuid::Uuid::now_v7().simple().to_string());
    std::fs::create_dir_all(&dir).expect("temp dir");
    let database = runtime.block_on(database(&config.backend, &dir));
    let url = database.url.clone();
    // A panic inside the run unwinds its task (killing the server through its guard) and comes
    // back here as an error, so the database is still dropped.
    let run_dir = dir.clone();
    let outcome = runtime.block_on(async {
        tokio::spawn(async move { scenario::run(&config, run_dir, url).await }).await
    });
    if let Err(err) = runtime.block_on(database.drop_database()) {
        eprintln!("{err}");
    }
    // Kept (database and server log) when something went wrong.
    if matches!(outcome, Ok(0)) {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("database (SQLite) and server log kept in {}", dir.display());
    }
    match outcome {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("audit_load failed: {err}");
            std::process::exit(2);
        }
    }
}
