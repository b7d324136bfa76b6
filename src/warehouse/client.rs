//! `Warehouse`: a ClickHouse client for one target, with lift's limits on every query.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use clickhouse::{Client, Compression, RowOwned, RowRead};

use crate::configuration::{ClickHouseCompression, ClickHouseSettings};
use crate::domain::warehouse::{WarehouseConnection, WarehouseTarget};
use crate::domain::DomainError;
use crate::sql::{CompiledQuery, EventsTable, ParamValue, Placement};
use crate::telemetry::Metrics;

use super::egress::{self, EgressPolicy, GuardedConnector};
use super::limits::DEFAULT_TARGET;

/// The `/metrics` label of the server-wide warehouse (`LIFT_CLICKHOUSE_URL`).
pub const DEFAULT_TARGET_LABEL: &str = DEFAULT_TARGET;

/// The kinds of query lift sends, as `/metrics` labels them.
pub use crate::telemetry::metrics::WAREHOUSE_QUERY_KINDS as QUERY_KINDS;

/// The settings every query runs with: its time and memory limits, and where its big stages spill
/// to disk instead of failing at the limit. A results query over many identities holds two large
/// structures at once: the per-identity `GROUP BY`s (external aggregation past half the limit)
/// and, in the metrics query, the assignments' side of the join (a grace hash join: past a
/// quarter of the limit, `max_bytes_in_join`, it splits into buckets on disk; below it, it is a
/// plain in-memory hash join). Both at their thresholds stay under the limit (at 10M events a
/// tenth of the default limit suffices: `benches/results.md`).
pub fn query_settings(options: &WarehouseOptions) -> Vec<(&'static str, String)> {
    let limit = options.max_memory_bytes;
    vec![
        ("max_execution_time", options.timeout.as_secs().to_string()),
        ("max_memory_usage", limit.to_string()),
        (
            "max_bytes_before_external_group_by",
            (limit / 2).to_string(),
        ),
        ("join_algorithm", "grace_hash".to_owned()),
        ("max_bytes_in_join", (limit / 4).to_string()),
    ]
}

/// Limits and transport options shared by every target (from `ClickHouseSettings`).
#[derive(Debug, Clone)]
pub struct WarehouseOptions {
    /// Where query counts and durations are recorded (the application's `/metrics`).
    pub metrics: Metrics,
    /// Bounds the queries this process runs at once, so one request asking many experiments'
    /// results cannot flood the warehouse.
    pub concurrency: Arc<Semaphore>,
    /// Bounds the queries each target runs at once, so one tenant's slow warehouse cannot take
    /// every slot of `concurrency`.
    pub targets: super::TargetLimits,
    /// Where per-environment connections may point (`LIFT_WAREHOUSE_ALLOWED_HOSTS`).
    pub egress: EgressPolicy,
    pub compression: ClickHouseCompression,
    /// Sent as `max_execution_time`; lift stops waiting a little later and reports the warehouse
    /// unavailable, so a hung server cannot hold a request.
    pub timeout: Duration,
    pub max_memory_bytes: u64,
}

impl WarehouseOptions {
    pub fn from_settings(settings: &ClickHouseSettings) -> Self {
        let process = usize::try_from(settings.clickhouse_max_concurrent_queries).unwrap_or(8);
        // Both are bounded to 1..=1024 by their flags; a target bound above the process bound
        // would mean nothing more, so the process bound caps it.
        let per_target = usize::try_from(settings.clickhouse_max_concurrent_queries_per_target)
            .unwrap_or(process)
            .min(process);
        WarehouseOptions {
            metrics: Metrics::default(),
            concurrency: Arc::new(Semaphore::new(process)),
            targets: super::TargetLimits::new(per_target),
            egress: EgressPolicy::new(&settings.warehouse_allowed_hosts),
            compression: settings.clickhouse_compression,
            timeout: Duration::from_secs(settings.clickhouse_timeout_seconds),
            max_memory_bytes: settings.clickhouse_max_memory_bytes,
        }
    }
}

/// Extra time lift waits beyond `max_execution_time` for the server's own timeout error.
const GRACE: Duration = Duration::from_secs(2);

/// TCP keepalive and idle-connection lifetime of guarded clients (the ClickHouse client's own).
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Warehouse {
    client: Client,
    target: WarehouseTarget,
    timeout: Duration,
    metrics: Metrics,
    /// How `/metrics` names the target: its connection id, or `default`; never the URL.
    target_label: String,
    concurrency: Arc<Semaphore>,
    target_slots: Arc<Semaphore>,
    /// For `https://` connections: the policy their host is re-checked against before each query.
    recheck: Option<EgressPolicy>,
}

impl Warehouse {
    /// The server-wide warehouse (`LIFT_CLICKHOUSE_URL`, the operator's, so not checked).
    pub fn new(target: &WarehouseTarget, options: &WarehouseOptions) -> Self {
        Self::build(Client::default(), target, DEFAULT_TARGET, options, None)
    }

    /// An environment's own connection: it may reach only what `LIFT_WAREHOUSE_ALLOWED_HOSTS`
    /// and the public internet offer (see `egress`), and has its own concurrency slots.
    pub fn for_connection(
        connection: &WarehouseConnection,
        options: &WarehouseOptions,
    ) -> Result<Self, DomainError> {
        let url = &connection.target.url;
        let uri: hyper::Uri = url.parse().map_err(|_| unusable_url())?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(unusable_url());
        }
        let (client, recheck) = if uri.scheme_str() == Some("http") {
            let http =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                    .build(GuardedConnector::new(options.egress.clone(), TCP_KEEPALIVE));
            (Client::with_http_client(http), None)
        } else {
            (Client::default(), Some(options.egress.clone()))
        };
        Ok(Self::build(
            client,
            &connection.target,
            &connection.id,
            options,
            recheck,
        ))
    }

    fn build(
        client: Client,
        target: &WarehouseTarget,
        key: &str,
        options: &WarehouseOptions,
        recheck: Option<EgressPolicy>,
    ) -> Self {
        let compression = match options.compression {
            ClickHouseCompression::Lz4 => Compression::Lz4,
            ClickHouseCompression::None => Compression::None,
        };
        let client = client
            .with_url(&target.url)
            .with_user(&target.user)
            .with_password(secrecy::ExposeSecret::expose_secret(&target.password))
            .with_database(&target.database)
            .with_compression(compression);
        let client = query_settings(options)
            .into_iter()
            .fold(client, |client, (name, value)| {
                client.with_setting(name, value)
            });
        Warehouse {
            client,
            target: target.clone(),
            timeout: options.timeout + GRACE,
            metrics: options.metrics.clone(),
            target_label: key.to_owned(),
            concurrency: options.concurrency.clone(),
            target_slots: options.targets.slots(key),
            recheck,
        }
    }

    pub fn events_table(&self) -> EventsTable {
        EventsTable {
            database: self.target.database.clone(),
            table: self.target.table.clone(),
            placement: match &self.target.cluster {
                Some(cluster) => Placement::Cluster(cluster.clone()),
                None => Placement::Single,
            },
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a compiled query with its parameters bound server-side and reads every row.
    pub async fn fetch_all<T: RowOwned + RowRead>(
        &self,
        compiled: &CompiledQuery,
        what: &'static str,
    ) -> Result<Vec<T>, DomainError> {
        let mut query = self.client.query(&compiled.sql);
        for (name, value) in &compiled.params {
            query = bind(query, name, value);
        }
        self.limit(what, query.fetch_all::<T>()).await
    }

    /// Runs a statement that returns no rows (DDL).
    pub async fn execute(&self, sql: &str, what: &'static str) -> Result<(), DomainError> {
        self.limit(what, self.client.query(sql).execute()).await
    }

    /// Awaits a warehouse call within the timeout, mapping every failure to
    /// `WAREHOUSE_UNAVAILABLE`: the server's message goes to the log, a readable one to the client.
    pub(crate) async fn limit<T>(
        &self,
        what: &'static str,
        call: impl std::future::Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, DomainError> {
        self.metrics.warehouse_query_started(what);
        let started = Instant::now();
        let call = async {
            if let Some(policy) = &self.recheck {
                let url = &self.target.url;
                let checked = policy.check_host(url).await;
                checked.map_err(|refused| clickhouse::error::Error::Network(Box::new(refused)))?;
            }
            // The semaphores are never closed, so acquiring only waits. The target's slot comes
            // first: a query queued behind its own target holds none of the process's.
            let _target = self.target_slots.acquire().await;
            let _process = self.concurrency.acquire().await;
            call.await
        };
        // Waiting on the warehouse holds no request slot (see `admission`).
        let result = crate::admission::outside(tokio::time::timeout(self.timeout, call)).await;
        let outcome = match &result {
            Ok(Ok(_)) => "ok",
            Ok(Err(_)) => "error",
            Err(_) => "timeout",
        };
        self.metrics
            .warehouse_query_finished(what, &self.target_label, outcome, started.elapsed());
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                tracing::warn!(warehouse = %self.target.url, query = what, error = %err, "warehouse query failed");
                Err(DomainError::WarehouseUnavailable(format!(
                    "the warehouse could not run the {what} query: {}",
                    readable(&err)
                )))
            }
            Err(_) => {
                tracing::warn!(warehouse = %self.target.url, query = what, timeout = ?self.timeout, "warehouse query timed out");
                Err(DomainError::WarehouseUnavailable(format!(
                    "the warehouse did not answer the {what} query within {} s",
                    self.timeout.as_secs()
                )))
            }
        }
    }
}

fn bind(
    query: clickhouse::query::Query,
    name: &str,
    value: &ParamValue,
) -> clickhouse::query::Query {
    match value {
        ParamValue::String(s) => query.param(name, s),
        ParamValue::Float64(f) => query.param(name, f),
        ParamValue::Int64(i) => query.param(name, i),
        ParamValue::StringArray(a) => query.param(name, a),
        ParamValue::Float64Array(a) => query.param(name, a),
        ParamValue::DateTime64(_) => query.param(name, value.to_clickhouse_text()),
    }
}

fn unusable_url() -> DomainError {
    DomainError::WarehouseUnavailable(
        "the connection's url must be the server only (scheme, host and port): recreate it"
            .to_owned(),
    )
}

/// What a client may read about a failure: a ClickHouse error's code and name, never the server's
/// text (which can name hosts, users, databases and tables, and reaches every viewer of results);
/// a refused address, with the setting that allows it. Everything else (refused or reset
/// connections, no server, an HTTP server that is not ClickHouse, an unreadable answer) reads the
/// same, so the probe does not tell a closed port from a foreign server. The full message is in
/// the server log.
fn readable(err: &clickhouse::error::Error) -> String {
    if let clickhouse::error::Error::BadResponse(text) = err {
        if let Some((code, name)) = exception_code(text) {
            return format!("ClickHouse error {code} {name}");
        }
    }
    if egress::is_refusal(err) {
        return egress::Refused.to_string();
    }
    "the server could not be reached or did not answer as ClickHouse".to_owned()
}

/// `(60, "UNKNOWN_TABLE")` from `Code: 60. DB::Exception: … (UNKNOWN_TABLE) (version …)`: the
/// number and the error's name (letters and underscores only), or `None`.
fn exception_code(text: &str) -> Option<(u32, &str)> {
    let rest = text.trim_start().strip_prefix("Code: ")?;
    let code: u32 = rest.split('.').next()?.trim().parse().ok()?;
    let head = text.split(" (version ").next().unwrap_or(text);
    let name = head
        .trim_end()
        .strip_suffix(')')
        .and_then(|h| h.rsplit_once('('))
        .map(|(_, name)| name)
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .unwrap_or("");
    Some((code, name))
}

#[cfg(test)]
mod tests {
    use super::{exception_code, WarehouseOptions};

    #[test]
    fn a_target_bound_above_the_process_bound_is_the_process_bound() {
        let mut settings = crate::configuration::Settings::defaults().clickhouse;
        settings.clickhouse_max_concurrent_queries = 3;
        settings.clickhouse_max_concurrent_queries_per_target = 10;
        let options = WarehouseOptions::from_settings(&settings);
        assert_eq!(options.targets.slots("any").available_permits(), 3);
        settings.clickhouse_max_concurrent_queries_per_target = 2;
        let options = WarehouseOptions::from_settings(&settings);
        assert_eq!(options.targets.slots("any").available_permits(), 2);
    }

    #[test]
    fn only_the_code_and_name_of_a_clickhouse_error_are_kept() {
        let text = "Code: 60. DB::Exception: Table secret_db.events does not exist. (UNKNOWN_TABLE) (version 26.9.2.1 (chdb))";
        assert_eq!(exception_code(text), Some((60, "UNKNOWN_TABLE")));
        assert_eq!(exception_code("<html>proxy error</html>"), None);
    }
}
