//! A ClickHouse events table per test, made over plain HTTP (independently of lift's own client):
//! `Warehouse::create()` makes a fresh database `lift_test_<uuid>` with the events table in the
//! shape lift reads, as a plain `MergeTree` (as an older lift created it, or as a table lift did
//! not create may be: deduplicated at read time); `Warehouse::create_deduplicating()` the same
//! with the table `lift clickhouse init` creates (lift's own `init_events_table`); `insert` appends `Event`s as JSONEachRow, `count` counts rows. The database is
//! dropped (best-effort) when the `Warehouse` goes out of scope.
//!
//! The server is `LIFT_TEST_CLICKHOUSE_URL`, else `http://127.0.0.1:8123` — the local engine that
//! `scripts/test` (or `scripts/clickhouse-local-ensure`) starts.

use std::io::{Read, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The ClickHouse HTTP interface tests use.
pub fn clickhouse_url() -> String {
    std::env::var("LIFT_TEST_CLICKHOUSE_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8123".into())
        .trim_end_matches('/')
        .to_owned()
}

/// A fresh database holding one empty `events` table.
pub struct Warehouse {
    pub url: String,
    pub database: String,
    client: reqwest::Client,
}

/// One row of the events table.
#[derive(Debug, Clone)]
pub struct Event {
    pub environment_key: String,
    pub event: String,
    pub feature_name: String,
    pub identifier: String,
    pub timestamp: DateTime<Utc>,
    pub value: String,
    pub metadata: String,
}

impl Event {
    /// An exposure: `event` (e.g. `$flag_exposure`) of `feature`, the variant key in `value`.
    pub fn exposure(
        env: &str,
        event: &str,
        feature: &str,
        identifier: &str,
        variant: &str,
        at: DateTime<Utc>,
    ) -> Event {
        Event {
            environment_key: env.into(),
            event: event.into(),
            feature_name: feature.into(),
            identifier: identifier.into(),
            timestamp: at,
            value: variant.into(),
            metadata: "{}".into(),
        }
    }

    /// A metric event without a feature, value or properties.
    pub fn track(env: &str, event: &str, identifier: &str, at: DateTime<Utc>) -> Event {
        Event {
            environment_key: env.into(),
            event: event.into(),
            feature_name: String::new(),
            identifier: identifier.into(),
            timestamp: at,
            value: String::new(),
            metadata: "{}".into(),
        }
    }

    /// Sets `value` (stored as text).
    pub fn value(mut self, value: &str) -> Event {
        self.value = value.into();
        self
    }

    /// Sets `metadata` to this JSON.
    pub fn metadata(mut self, metadata: Value) -> Event {
        self.metadata = metadata.to_string();
        self
    }

    fn row(&self) -> Value {
        json!({
            "environment_key": self.environment_key,
            "event": self.event,
            "feature_name": self.feature_name,
            "identifier": self.identifier,
            "timestamp": text(self.timestamp),
            "collected_at": text(self.timestamp),
            "value": self.value,
            "metadata": self.metadata,
        })
    }
}

/// `YYYY-MM-DD hh:mm:ss.fff` in UTC, as a DateTime64(3, 'UTC') column reads it.
pub fn text(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

impl Warehouse {
    /// Creates `lift_test_<uuid>` and a plain `MergeTree` events table; fails the test with
    /// directions when no ClickHouse answers.
    pub async fn create() -> Warehouse {
        Warehouse::create_at(clickhouse_url()).await
    }

    /// As [`Warehouse::create`], on the ClickHouse HTTP interface at `url`.
    pub async fn create_at(url: String) -> Warehouse {
        let warehouse = Self::create_database(url).await;
        let db = &warehouse.database;
        warehouse
            .run(&format!(
                "CREATE TABLE {db}.events (environment_key String, event String, feature_name String, \
                 identifier String, timestamp DateTime64(3, 'UTC'), collected_at DateTime64(3, 'UTC'), \
                 value String, metadata String) ENGINE = MergeTree \
                 ORDER BY (environment_key, event, feature_name, timestamp, identifier)"
            ))
            .await;
        warehouse
    }

    /// Creates `lift_test_<uuid>` and the events table exactly as `lift clickhouse init` does (a
    /// `ReplacingMergeTree` on the natural key).
    pub async fn create_deduplicating() -> Warehouse {
        let warehouse = Self::create_database(clickhouse_url()).await;
        let mut settings = lift::configuration::Settings::defaults().clickhouse;
        settings.clickhouse_compression = lift::configuration::ClickHouseCompression::None;
        let target = lift::domain::warehouse::WarehouseTarget {
            url: warehouse.url.clone(),
            database: warehouse.database.clone(),
            table: "events".into(),
            cluster: None,
            user: "default".into(),
            password: String::new().into(),
        };
        let options = lift::warehouse::WarehouseOptions::from_settings(&settings);
        lift::warehouse::Warehouse::new(&target, &options)
            .init_events_table()
            .await
            .expect("lift creates its events table");
        warehouse
    }

    async fn create_database(url: String) -> Warehouse {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let ping = client.get(format!("{url}/ping")).send().await;
        if !matches!(&ping, Ok(r) if r.status().is_success()) {
            panic!(
                "no ClickHouse answers at {url} ({ping:?}): results tests need one. Run scripts/test, \
                 or start the local engine with scripts/clickhouse-local-ensure \
                 (or set LIFT_TEST_CLICKHOUSE_URL)"
            );
        }
        let warehouse = Warehouse {
            url,
            database: format!("lift_test_{}", uuid::Uuid::now_v7().simple()),
            client,
        };
        let db = &warehouse.database;
        warehouse.run(&format!("CREATE DATABASE {db}")).await;
        warehouse
    }

    /// Runs one statement; returns the response body; panics on an error.
    pub async fn run(&self, sql: &str) -> String {
        self.post(sql, String::new()).await
    }

    /// Runs one statement with query parameters (`{name:Type}` in `sql`).
    pub async fn run_with(&self, sql: &str, params: &[(&str, &str)]) -> String {
        self.post_with(sql, params, String::new()).await
    }

    async fn post(&self, sql: &str, body: String) -> String {
        self.post_with(sql, &[], body).await
    }

    async fn post_with(&self, sql: &str, params: &[(&str, &str)], body: String) -> String {
        let params: Vec<(String, &str)> = params
            .iter()
            .map(|(name, value)| (format!("param_{name}"), *value))
            .collect();
        let response = self
            .client
            .post(format!("{}/", self.url))
            .query(&[("query", sql)])
            .query(&params)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ClickHouse at {} did not answer {sql:?}: {e}", self.url));
        let status = response.status();
        let text = response.text().await.expect("ClickHouse response body");
        assert!(
            status.is_success(),
            "ClickHouse refused {sql:?}: {status} {text}"
        );
        text
    }

    /// Appends the events in one INSERT.
    pub async fn insert(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        let body: String = events.iter().map(|e| format!("{}\n", e.row())).collect();
        self.post(
            &format!("INSERT INTO {}.events FORMAT JSONEachRow", self.database),
            body,
        )
        .await;
    }

    /// Rows in the events table (fails if the table is gone).
    pub async fn count(&self) -> u64 {
        let text = self
            .run(&format!("SELECT count() FROM {}.events", self.database))
            .await;
        text.trim().parse().expect("count() is a number")
    }
}

impl Drop for Warehouse {
    /// Drops the database over a plain blocking socket (best-effort: errors are ignored).
    fn drop(&mut self) {
        let Some(authority) = self.url.strip_prefix("http://") else {
            return;
        };
        let authority = authority.split('/').next().unwrap_or(authority).to_owned();
        let request = format!(
            "POST /?query=DROP%20DATABASE%20IF%20EXISTS%20{db} HTTP/1.1\r\nHost: {authority}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            db = self.database
        );
        let drop_it = move || -> std::io::Result<()> {
            use std::net::ToSocketAddrs;
            let address = authority
                .to_socket_addrs()?
                .next()
                .ok_or(std::io::ErrorKind::NotFound)?;
            let mut stream =
                std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.write_all(request.as_bytes())?;
            let mut sink = Vec::new();
            stream.read_to_end(&mut sink)?;
            Ok(())
        };
        let _ = drop_it();
    }
}
