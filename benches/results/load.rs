//! Loading one size into `lift_bench_<size>.events`, or reusing it when a previous run already
//! loaded exactly that many rows with this generator version.

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
    pub warehouse: Warehouse,
    pub database: String,
    /// `None` when the database was reused.
    pub load: Option<LoadTimes>,
}

pub struct LoadTimes {
    /// Generating and inserting every row.
    pub insert: Duration,
    /// `OPTIMIZE TABLE … FINAL` afterwards (one part per size, so runs are comparable).
    pub optimize: Duration,
}

pub fn target(url: &str, database: &str) -> WarehouseTarget {
    WarehouseTarget {
        url: url.to_owned(),
        database: database.to_owned(),
        table: "events".into(),
        cluster: None,
        user: "default".into(),
        password: String::new().into(),
    }
}

/// A client for the bench's own statements, without a database (they name it).
pub fn raw_client(url: &str, options: &WarehouseOptions) -> Client {
    Client::default()
        .with_url(url)
        .with_compression(clickhouse::Compression::None)
        .with_setting("max_execution_time", options.timeout.as_secs().to_string())
        .with_setting("max_memory_usage", options.max_memory_bytes.to_string())
}

/// The marker written after a complete load: `(version, rows)`.
async fn loaded_marker(client: &Client, database: &str) -> Option<(u32, u64)> {
    let sql = format!("SELECT version, rows FROM `{database}`.loaded LIMIT 1");
    client.query(&sql).fetch_one::<(u32, u64)>().await.ok()
}

async fn row_count(client: &Client, database: &str) -> Option<u64> {
    let sql = format!("SELECT count() FROM `{database}`.events");
    client.query(&sql).fetch_one::<u64>().await.ok()
}

pub async fn ensure(url: &str, size: u64, options: &WarehouseOptions) -> anyhow::Result<Loaded> {
    let database = format!("lift_bench_{size}");
    let client = raw_client(url, options);
    let warehouse = Warehouse::new(&target(url, &database), options);
    let marker = loaded_marker(&client, &database).await;
    let rows = row_count(&client, &database).await;
    if marker == Some((GENERATOR_VERSION, size)) && rows == Some(size) {
        println!("  {database}: reusing {size} rows");
        return Ok(Loaded {
            warehouse,
            database,
            load: None,
        });
    }
    println!("  {database}: loading {size} rows (found {rows:?}, marker {marker:?})");
    client
        .query(&format!("DROP DATABASE IF EXISTS `{database}`"))
        .execute()
        .await?;
    warehouse.init_events_table().await?;

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
    let rows = row_count(&client, &database).await;
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
    Ok(Loaded {
        warehouse,
        database,
        load: Some(LoadTimes { insert, optimize }),
    })
}
