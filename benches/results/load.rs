//! Loading one size into `lift_bench_<size>`, or reusing what a previous run loaded:
//! - `events`: a plain `MergeTree` as lift created it before it deduplicated (and as a table lift
//!   did not create may be), the generated rows, duplicates included;
//! - `events_dedup`: the table `lift clickhouse init` creates now (`Warehouse::init_events_table`),
//!   filled from `events` by `INSERT … SELECT`, then `OPTIMIZE … FINAL` (merged, as a table
//!   is once its background merges have run; unmerged parts cost `FINAL` more).

use std::sync::Arc;
use std::time::{Duration, Instant};

use clickhouse::Client;
use tokio::sync::{mpsc, Mutex};

use lift::domain::warehouse::WarehouseTarget;
use lift::warehouse::{Warehouse, WarehouseOptions};

use crate::generate::{Generator, GENERATOR_VERSION};
use crate::scope::start;

/// Rows per INSERT.
const BATCH_ROWS: usize = 250_000;
/// INSERTs in flight (the generator runs on its own thread meanwhile).
const INSERTERS: usize = 2;

pub struct Loaded {
    /// Over `events` (plain) and over `events_dedup` (deduplicating).
    pub plain: Warehouse,
    pub dedup: Warehouse,
    pub database: String,
    /// `None` when the database was reused.
    pub load: Option<LoadTimes>,
    /// Filling `events_dedup` (`None`: reused).
    pub dedup_load: Option<LoadTimes>,
}

pub const PLAIN: &str = "events";
pub const DEDUP: &str = "events_dedup";

/// The events table as lift created it before it deduplicated.
const PLAIN_TABLE: &str = "CREATE TABLE IF NOT EXISTS `{database}`.events (
    environment_key String,
    event String,
    feature_name String,
    identifier String,
    timestamp DateTime64(3, 'UTC'),
    collected_at DateTime64(3, 'UTC'),
    value String,
    metadata String
) ENGINE = MergeTree
ORDER BY (environment_key, event, feature_name, timestamp, identifier)";

pub struct LoadTimes {
    /// Generating and inserting every row.
    pub insert: Duration,
    /// `OPTIMIZE TABLE … FINAL` afterwards (one part per size, so runs are comparable).
    pub optimize: Duration,
}

pub fn target(url: &str, database: &str, table: &str) -> WarehouseTarget {
    WarehouseTarget {
        url: url.to_owned(),
        database: database.to_owned(),
        table: table.into(),
        cluster: None,
        user: "default".into(),
        password: String::new().into(),
    }
}

/// A client for the bench's own statements, without a database (they name it), with the settings
/// lift's own client runs every query with.
pub fn raw_client(url: &str, options: &WarehouseOptions) -> Client {
    let client = Client::default()
        .with_url(url)
        .with_compression(clickhouse::Compression::None);
    lift::warehouse::query_settings(options)
        .into_iter()
        .fold(client, |client, (name, value)| {
            client.with_setting(name, value)
        })
}

/// The marker written after a complete load: `(version, rows)`.
async fn loaded_marker(client: &Client, database: &str, marker: &str) -> Option<(u32, u64)> {
    let sql = format!("SELECT version, rows FROM `{database}`.{marker} LIMIT 1");
    client.query(&sql).fetch_one::<(u32, u64)>().await.ok()
}

async fn row_count(client: &Client, database: &str, table: &str) -> Option<u64> {
    let sql = format!("SELECT count() FROM `{database}`.{table}");
    client.query(&sql).fetch_one::<u64>().await.ok()
}

pub async fn ensure(url: &str, size: u64, options: &WarehouseOptions) -> anyhow::Result<Loaded> {
    let database = format!("lift_bench_{size}");
    let client = raw_client(url, options);
    let warehouse = Warehouse::new(&target(url, &database, PLAIN), options);
    let dedup = Warehouse::new(&target(url, &database, DEDUP), options);
    let marker = loaded_marker(&client, &database, "loaded").await;
    let rows = row_count(&client, &database, PLAIN).await;
    if marker == Some((GENERATOR_VERSION, size)) && rows == Some(size) {
        println!("  {database}: reusing {size} rows");
        let dedup_load = ensure_dedup(&client, &database, size, &dedup).await?;
        return Ok(Loaded {
            plain: warehouse,
            dedup,
            database,
            load: None,
            dedup_load,
        });
    }
    println!("  {database}: loading {size} rows (found {rows:?}, marker {marker:?})");
    client
        .query(&format!("DROP DATABASE IF EXISTS `{database}`"))
        .execute()
        .await?;
    client
        .query("CREATE DATABASE IF NOT EXISTS {database:Identifier}")
        .param("database", &database)
        .execute()
        .await?;
    client
        .query(&PLAIN_TABLE.replace("{database}", &database))
        .execute()
        .await?;

    let began = Instant::now();
    let (sender, receiver) = mpsc::channel(INSERTERS);
    let generator = std::thread::spawn(move || {
        let mut generator = Generator::new(start(), size);
        loop {
            let batch = generator.next_batch(BATCH_ROWS);
            if batch.is_empty() || sender.blocking_send(batch).is_err() {
                break;
            }
        }
    });
    let receiver = Arc::new(Mutex::new(receiver));
    let mut inserters = Vec::new();
    for _ in 0..INSERTERS {
        let receiver = receiver.clone();
        let warehouse = warehouse.clone();
        inserters.push(tokio::spawn(async move {
            let mut written = 0u64;
            loop {
                let batch = receiver.lock().await.recv().await;
                let Some(batch) = batch else {
                    return Ok::<u64, anyhow::Error>(written);
                };
                warehouse.insert_events(&batch).await?;
                written += batch.len() as u64;
            }
        }));
    }
    let mut written = 0;
    for inserter in inserters {
        written += inserter.await??;
    }
    generator.join().expect("the generator thread");
    let insert = began.elapsed();
    anyhow::ensure!(written == size, "wrote {written} rows, expected {size}");

    let began = Instant::now();
    client
        .query(&format!("OPTIMIZE TABLE `{database}`.events FINAL"))
        .execute()
        .await?;
    let optimize = began.elapsed();
    let rows = row_count(&client, &database, PLAIN).await;
    anyhow::ensure!(
        rows == Some(size),
        "the table holds {rows:?} rows, expected {size}"
    );
    client
        .query(&format!(
            "CREATE TABLE `{database}`.loaded (version UInt32, rows UInt64) ENGINE = TinyLog"
        ))
        .execute()
        .await?;
    client
        .query(&format!(
            "INSERT INTO `{database}`.loaded VALUES ({GENERATOR_VERSION}, {size})"
        ))
        .execute()
        .await?;
    println!(
        "  {database}: inserted in {:.1} s ({:.0} rows/s), OPTIMIZE FINAL {:.1} s",
        insert.as_secs_f64(),
        size as f64 / insert.as_secs_f64(),
        optimize.as_secs_f64()
    );
    let dedup_load = ensure_dedup(&client, &database, size, &dedup).await?;
    Ok(Loaded {
        plain: warehouse,
        dedup,
        database,
        load: Some(LoadTimes { insert, optimize }),
        dedup_load,
    })
}

/// Fills `events_dedup` from `events` unless a previous run did.
async fn ensure_dedup(
    client: &Client,
    database: &str,
    size: u64,
    dedup: &Warehouse,
) -> anyhow::Result<Option<LoadTimes>> {
    if loaded_marker(client, database, "loaded_dedup").await == Some((GENERATOR_VERSION, size)) {
        return Ok(None);
    }
    client
        .query(&format!("DROP TABLE IF EXISTS `{database}`.{DEDUP}"))
        .execute()
        .await?;
    dedup.init_events_table().await?;
    let began = Instant::now();
    client
        .query(&format!(
            "INSERT INTO `{database}`.{DEDUP} SELECT * FROM `{database}`.{PLAIN}"
        ))
        .execute()
        .await?;
    let insert = began.elapsed();
    let began = Instant::now();
    client
        .query(&format!("OPTIMIZE TABLE `{database}`.{DEDUP} FINAL"))
        .execute()
        .await?;
    let optimize = began.elapsed();
    client
        .query(&format!(
            "CREATE TABLE IF NOT EXISTS `{database}`.loaded_dedup (version UInt32, rows UInt64) ENGINE = TinyLog"
        ))
        .execute()
        .await?;
    client
        .query(&format!(
            "INSERT INTO `{database}`.loaded_dedup VALUES ({GENERATOR_VERSION}, {size})"
        ))
        .execute()
        .await?;
    let rows = row_count(client, database, DEDUP).await.unwrap_or(0);
    println!(
        "  {database}.{DEDUP}: {rows} rows once deduplicated, copied in {:.1} s, OPTIMIZE FINAL {:.1} s",
        insert.as_secs_f64(),
        optimize.as_secs_f64()
    );
    Ok(Some(LoadTimes { insert, optimize }))
}
