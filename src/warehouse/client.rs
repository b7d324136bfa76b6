//! `Warehouse`: a ClickHouse client for one target, with lift's limits on every query.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use clickhouse::{Client, Compression, RowOwned, RowRead};

use crate::configuration::{ClickHouseCompression, ClickHouseSettings};
use crate::domain::warehouse::WarehouseTarget;
use crate::domain::DomainError;
use crate::sql::{CompiledQuery, EventsTable, ParamValue};
use crate::telemetry::Metrics;

/// The `/metrics` label of the server-wide warehouse (`LIFT_CLICKHOUSE_URL`).
pub const DEFAULT_TARGET_LABEL: &str = "default";

/// The kinds of query lift sends, as `/metrics` labels them.
pub use crate::telemetry::metrics::WAREHOUSE_QUERY_KINDS as QUERY_KINDS;

/// Limits and transport options shared by every target (from `ClickHouseSettings`).
#[derive(Debug, Clone)]
pub struct WarehouseOptions {
    /// Where query counts and durations are recorded (the application's `/metrics`).
    pub metrics: Metrics,
    /// Bounds the queries this process runs at once, so one request asking many experiments'
    /// results cannot flood the warehouse.
    pub concurrency: Arc<Semaphore>,
    pub compression: ClickHouseCompression,
    /// Sent as `max_execution_time`; lift stops waiting a little later and reports the warehouse
    /// unavailable, so a hung server cannot hold a request.
    pub timeout: Duration,
    pub max_memory_bytes: u64,
}

impl WarehouseOptions {
    pub fn from_settings(settings: &ClickHouseSettings) -> Self {
        WarehouseOptions {
            metrics: Metrics::default(),
            concurrency: Arc::new(Semaphore::new(
                usize::try_from(settings.clickhouse_max_concurrent_queries).unwrap_or(8),
            )),
            compression: settings.clickhouse_compression,
            timeout: Duration::from_secs(settings.clickhouse_timeout_seconds),
            max_memory_bytes: settings.clickhouse_max_memory_bytes,
        }
    }
}

/// Extra time lift waits beyond `max_execution_time` for the server's own timeout error.
const GRACE: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Warehouse {
    client: Client,
    target: WarehouseTarget,
    timeout: Duration,
    metrics: Metrics,
    /// How `/metrics` names the target: its connection id, or `default`; never the URL.
    target_label: String,
    concurrency: Arc<Semaphore>,
}

impl Warehouse {
    pub fn new(target: &WarehouseTarget, options: &WarehouseOptions) -> Self {
        let compression = match options.compression {
            ClickHouseCompression::Lz4 => Compression::Lz4,
            ClickHouseCompression::None => Compression::None,
        };
        let client = Client::default()
            .with_url(&target.url)
            .with_user(&target.user)
            .with_password(&target.password)
            .with_database(&target.database)
            .with_compression(compression)
            .with_setting("max_execution_time", options.timeout.as_secs().to_string())
            .with_setting("max_memory_usage", options.max_memory_bytes.to_string());
        Warehouse {
            client,
            target: target.clone(),
            timeout: options.timeout + GRACE,
            metrics: options.metrics.clone(),
            target_label: DEFAULT_TARGET_LABEL.to_owned(),
            concurrency: options.concurrency.clone(),
        }
    }

    /// Names the target by its connection id in `/metrics` (the server-wide one is `default`).
    pub fn for_connection(mut self, connection_id: &str) -> Self {
        self.target_label = connection_id.to_owned();
        self
    }

    pub fn events_table(&self) -> EventsTable {
        EventsTable {
            database: self.target.database.clone(),
            table: self.target.table.clone(),
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
            // The semaphore is never closed, so acquiring only waits.
            let _permit = self.concurrency.acquire().await;
            call.await
        };
        let result = tokio::time::timeout(self.timeout, call).await;
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

/// What a client may read about a failure: the kind of error, never the server's text (which can
/// name hosts, users, databases and tables, and reaches every viewer of results). The full message
/// is in the server log.
fn readable(err: &clickhouse::error::Error) -> String {
    match err {
        clickhouse::error::Error::Network(_) => {
            "the server could not be reached (network error)".to_owned()
        }
        clickhouse::error::Error::TimedOut => "the server timed out".to_owned(),
        clickhouse::error::Error::BadResponse(text) => match exception_code(text) {
            Some((code, name)) => format!("ClickHouse error {code} {name}"),
            None => "the server answered with an error".to_owned(),
        },
        _ => "the answer could not be read".to_owned(),
    }
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
    use super::exception_code;

    #[test]
    fn only_the_code_and_name_of_a_clickhouse_error_are_kept() {
        let text = "Code: 60. DB::Exception: Table secret_db.events does not exist. (UNKNOWN_TABLE) (version 26.9.2.1 (chdb))";
        assert_eq!(exception_code(text), Some((60, "UNKNOWN_TABLE")));
        assert_eq!(exception_code("<html>proxy error</html>"), None);
    }
}
