//! `Metrics`: the Prometheus series of one running application.
//!
//! Each `Application` owns its own `PrometheusRecorder` and records through it directly (via the
//! `metrics::Recorder` methods) instead of installing a global recorder: a process that runs
//! several applications — the API tests start dozens in one process — keeps their series apart,
//! and `/metrics` of one app shows only what that app did. Nothing here uses the `metrics::counter!`
//! macros, which would write to the global recorder.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{Key, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Distinct GraphQL operation names kept as labels; later new names are counted as `other`, so a
/// client inventing names cannot grow the series without bound.
const MAX_OPERATION_NAMES: usize = 200;
const MAX_LABEL_CHARS: usize = 64;
/// Bucket bounds (seconds) of every `*_seconds` histogram.
const SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static METADATA: Metadata<'static> = Metadata::new("lift", Level::INFO, Some(module_path!()));

/// The kinds of warehouse query, pre-registered so `/metrics` lists them from the start.
pub const WAREHOUSE_QUERY_KINDS: [&str; 5] = ["exposures", "metrics", "preview", "probe", "other"];

/// Database pool usage at one moment.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    /// Open connections (idle and in use).
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// The live values read when `/metrics` is scraped.
#[derive(Debug, Clone, Copy)]
pub struct ScrapeTime {
    pub audit_tails: usize,
    pub audit_subscribers: usize,
    pub audit_groups: usize,
    pub pool: Option<PoolUsage>,
    pub open_connections: usize,
    /// Bytes SQLite's allocator holds (its page caches, statements and schemas, for every
    /// connection of the process); `None` on PostgreSQL.
    pub sqlite_memory: Option<i64>,
}

/// The series of one application; cheap to clone (shared).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    operations: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh recorder with lift's series described and the fixed ones registered at zero.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
            .map(|builder| builder.build_recorder())
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        let metrics = Metrics {
            inner: Arc::new(Inner {
                recorder,
                handle,
                operations: Mutex::new(HashSet::new()),
            }),
        };
        metrics.describe();
        // Counters listed at zero from the start, so readers find them before the first event.
        for kind in WAREHOUSE_QUERY_KINDS {
            metrics
                .counter("lift_warehouse_queries_total", vec![("query", kind.into())])
                .increment(0);
        }
        for name in [
            "lift_audit_catch_ups_total",
            "lift_http_connections_total",
            "lift_http_connections_refused_total",
            "lift_http_connections_timed_out_total",
            "lift_db_statements_total",
        ] {
            metrics.counter(name, vec![]).increment(0);
        }
        metrics
    }

    fn describe(&self) {
        let r = &self.inner.recorder;
        let texts: [(&'static str, Option<Unit>, &'static str); 17] = [
            ("lift_graphql_requests_total", None, "GraphQL queries and mutations, by operation name and outcome (ok or the first error's code)."),
            ("lift_graphql_request_duration_seconds", Some(Unit::Seconds), "Time to answer a GraphQL query or mutation (parse to response), by operation name."),
            ("lift_warehouse_queries_total", None, "Queries sent to warehouses, by kind."),
            ("lift_warehouse_query_duration_seconds", Some(Unit::Seconds), "Time lift waited for a warehouse query (including its turn under the concurrency bounds), by kind, target (connection id or default) and outcome (ok, error, timeout)."),
            ("lift_db_pool_connections", None, "Open database connections, by state (idle, in_use)."),
            ("lift_db_pool_max_connections", None, "Most database connections the pool opens."),
            ("lift_audit_tails", None, "Environments with live audit subscribers on this process."),
            ("lift_audit_subscribers", None, "Live audit subscriptions on this process."),
            ("lift_audit_groups", None, "Groups of live audit subscriptions that share one resolution per entry."),
            ("lift_audit_catch_ups_total", None, "Times a slow subscriber fell behind its buffer and read the gap from the database."),
            ("lift_audit_delivery_lag_seconds", Some(Unit::Seconds), "From an audit entry's created_at (stamped in the committing transaction) to its broadcast to this process's subscribers."),
            ("lift_http_connections", None, "Open client connections (HTTP and WebSocket)."),
            ("lift_http_connections_refused_total", None, "Connections closed on accept because LIFT_MAX_CONNECTIONS were open."),
            ("lift_http_connections_total", None, "Connections accepted and served."),
            ("lift_http_connections_timed_out_total", None, "Connections closed because a client did not send its headers within LIFT_HEADER_READ_TIMEOUT_SECONDS."),
            ("lift_db_statements_total", None, "SQL statements sent to the application database (queries, writes, transaction control)."),
            ("lift_sqlite_memory_bytes", Some(Unit::Bytes), "Memory SQLite's allocator holds (page caches, prepared statements, schemas), across the process's connections; only when the application database is SQLite."),
        ];
        for (name, unit, help) in texts {
            let help = SharedString::const_str(help);
            if name.ends_with("_total") {
                r.describe_counter(name.into(), unit, help);
            } else if name.ends_with("_seconds") {
                r.describe_histogram(name.into(), unit, help);
            } else {
                r.describe_gauge(name.into(), unit, help);
            }
        }
    }

    fn counter(&self, name: &'static str, labels: Vec<(&'static str, String)>) -> metrics::Counter {
        self.inner
            .recorder
            .register_counter(&key(name, labels), &METADATA)
    }

    fn gauge(&self, name: &'static str, labels: Vec<(&'static str, String)>) -> metrics::Gauge {
        self.inner
            .recorder
            .register_gauge(&key(name, labels), &METADATA)
    }

    fn histogram(
        &self,
        name: &'static str,
        labels: Vec<(&'static str, String)>,
    ) -> metrics::Histogram {
        self.inner
            .recorder
            .register_histogram(&key(name, labels), &METADATA)
    }

    /// One GraphQL query or mutation answered. `operation` is the client's operation name (bounded
    /// here), `code` the first error's `extensions.code` (`None` when it succeeded).
    pub fn graphql_request(&self, operation: Option<&str>, code: Option<&str>, took: Duration) {
        let operation = self.operation_label(operation);
        let outcome = match code {
            None => "ok".to_owned(),
            Some(code) if is_code(code) => code.to_owned(),
            Some(_) => "INTERNAL".to_owned(),
        };
        self.counter(
            "lift_graphql_requests_total",
            vec![("operation", operation.clone()), ("outcome", outcome)],
        )
        .increment(1);
        self.histogram(
            "lift_graphql_request_duration_seconds",
            vec![("operation", operation)],
        )
        .record(took.as_secs_f64());
    }

    /// A warehouse query was asked for (counted before it runs, whatever its fate).
    pub fn warehouse_query_started(&self, kind: &str) {
        self.counter(
            "lift_warehouse_queries_total",
            vec![("query", warehouse_kind(kind).into())],
        )
        .increment(1);
    }

    /// A warehouse query ended: `outcome` is `ok`, `error` or `timeout`; `target` a stable label
    /// (a connection id or `default`), never a URL.
    pub fn warehouse_query_finished(
        &self,
        kind: &str,
        target: &str,
        outcome: &'static str,
        took: Duration,
    ) {
        self.histogram(
            "lift_warehouse_query_duration_seconds",
            vec![
                ("query", warehouse_kind(kind).into()),
                ("target", bounded(target)),
                ("outcome", outcome.into()),
            ],
        )
        .record(took.as_secs_f64());
    }

    /// A slow subscriber read the gap from the table.
    pub fn audit_catch_up(&self) {
        self.counter("lift_audit_catch_ups_total", vec![])
            .increment(1);
    }

    /// An audit entry reached this process's subscribers `lag` after it was stamped.
    pub fn audit_delivered(&self, lag: Duration) {
        self.histogram("lift_audit_delivery_lag_seconds", vec![])
            .record(lag.as_secs_f64());
    }

    /// A connection was accepted and will be served.
    pub fn connection_accepted(&self) {
        self.counter("lift_http_connections_total", vec![])
            .increment(1);
    }

    /// A connection was closed on accept: the cap was reached.
    pub fn connection_refused(&self) {
        self.counter("lift_http_connections_refused_total", vec![])
            .increment(1);
    }

    /// A connection was closed because its headers did not arrive in time.
    pub fn connection_timed_out(&self) {
        self.counter("lift_http_connections_timed_out_total", vec![])
            .increment(1);
    }

    /// The Prometheus text of every series, after setting the gauges read at scrape time.
    /// Counts the statements sent to the application database; given to its connection's metric
    /// callback, so it costs an atomic increment per statement.
    pub fn db_statements(&self) -> metrics::Counter {
        self.counter("lift_db_statements_total", vec![])
    }

    pub fn render(&self, now: ScrapeTime) -> String {
        self.gauge("lift_audit_tails", vec![])
            .set(now.audit_tails as f64);
        self.gauge("lift_audit_subscribers", vec![])
            .set(now.audit_subscribers as f64);
        self.gauge("lift_audit_groups", vec![])
            .set(now.audit_groups as f64);
        self.gauge("lift_http_connections", vec![])
            .set(now.open_connections as f64);
        if let Some(pool) = now.pool {
            let idle = pool.idle.min(pool.size);
            self.gauge("lift_db_pool_connections", vec![("state", "idle".into())])
                .set(f64::from(idle));
            self.gauge("lift_db_pool_connections", vec![("state", "in_use".into())])
                .set(f64::from(pool.size - idle));
            self.gauge("lift_db_pool_max_connections", vec![])
                .set(f64::from(pool.max));
        }
        if let Some(bytes) = now.sqlite_memory {
            self.gauge("lift_sqlite_memory_bytes", vec![])
                .set(bytes as f64);
        }
        self.inner.handle.render()
    }

    fn operation_label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation else {
            return "anonymous".to_owned();
        };
        let is_name = !name.is_empty()
            && name.len() <= MAX_LABEL_CHARS
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_name {
            return "other".to_owned();
        }
        let Ok(mut known) = self.inner.operations.lock() else {
            return "other".to_owned();
        };
        if known.contains(name) || known.len() < MAX_OPERATION_NAMES {
            known.insert(name.to_owned());
            name.to_owned()
        } else {
            "other".to_owned()
        }
    }
}

fn key(name: &'static str, labels: Vec<(&'static str, String)>) -> Key {
    let labels: Vec<Label> = labels.into_iter().map(|(k, v)| Label::new(k, v)).collect();
    Key::from_parts(name, labels)
}

fn warehouse_kind(kind: &str) -> &'static str {
    WAREHOUSE_QUERY_KINDS
        .iter()
        .find(|k| **k == kind)
        .copied()
        .unwrap_or("other")
}

/// An error code as `graphql/error.rs` writes them (`NOT_FOUND`): anything else is not a label.
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_LABEL_CHARS
        && code.chars().all(|c| c.is_ascii_uppercase() || c == '_')
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_LABEL_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_metrics_instance_renders_only_what_it_recorded() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.graphql_request(Some("Viewer"), None, Duration::from_millis(3));
        let now = ScrapeTime {
            audit_tails: 0,
            audit_subscribers: 0,
            audit_groups: 0,
            pool: None,
            open_connections: 0,
            sqlite_memory: None,
        };
        assert!(a
            .render(now)
            .contains(r#"lift_graphql_requests_total{operation="Viewer",outcome="ok"} 1"#));
        assert!(!b.render(now).contains("operation=\"Viewer\""));
        assert!(b
            .render(now)
            .contains(r#"lift_warehouse_queries_total{query="exposures"} 0"#));
    }

    #[test]
    fn operation_names_are_bounded_in_form_and_number() {
        let metrics = Metrics::new();
        assert_eq!(metrics.operation_label(None), "anonymous");
        assert_eq!(metrics.operation_label(Some("a b")), "other");
        assert_eq!(metrics.operation_label(Some(&"x".repeat(65))), "other");
        for i in 0..MAX_OPERATION_NAMES {
            assert_eq!(
                metrics.operation_label(Some(&format!("Op{i}"))),
                format!("Op{i}")
            );
        }
        assert_eq!(metrics.operation_label(Some("OneTooMany")), "other");
        assert_eq!(metrics.operation_label(Some("Op0")), "Op0");
    }
}
