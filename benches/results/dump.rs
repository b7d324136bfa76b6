//! `RESULTS_BENCH_DUMP_SQL=DIR`: writes the queries of each size to `DIR` for inspection with curl
//! (`EXPLAIN PIPELINE`, settings…): per table (`events`, `events_dedup`) lift's
//! `<size>_<table>_exposures.sql`, `<size>_<table>_metrics.sql`, `…_metrics_cuped.sql` and
//! `…_metrics_catalogue.sql` (one metric of every kind), each with `.params` (one
//! `param_pN=value` per line, the text the client sends), and the floor; and the check.

use std::path::Path;

use lift::sql::{compile_exposures, compile_metrics, CompiledQuery, EventsTableKind};

use crate::load::{DEDUP, PLAIN};
use crate::scope::results_scope;
use crate::yardsticks;

fn write(dir: &Path, name: &str, query: &CompiledQuery) -> std::io::Result<()> {
    std::fs::write(dir.join(format!("{name}.sql")), &query.sql)?;
    let params: String = query
        .params
        .iter()
        .map(|(k, v)| format!("param_{k}={}\n", v.to_clickhouse_text()))
        .collect();
    std::fs::write(dir.join(format!("{name}.params")), params)
}

pub fn dump(dir: &Path, size: u64, database: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (table, kind) in [
        (DEDUP, EventsTableKind::Deduplicating),
        (PLAIN, EventsTableKind::Plain),
    ] {
        let scope = results_scope(database, table);
        write(
            dir,
            &format!("{size}_{table}_exposures"),
            &compile_exposures(&scope)?,
        )?;
        write(
            dir,
            &format!("{size}_{table}_metrics"),
            &compile_metrics(&scope, kind)?,
        )?;
        write(
            dir,
            &format!("{size}_{table}_metrics_cuped"),
            &compile_metrics(&crate::scope::cuped_scope(database, table), kind)?,
        )?;
        write(
            dir,
            &format!("{size}_{table}_metrics_catalogue"),
            &compile_metrics(&crate::scope::catalogue_scope(database, table), kind)?,
        )?;
        let qualified = format!("`{database}`.{table}");
        std::fs::write(
            dir.join(format!("{size}_{table}_floor.sql")),
            yardsticks::per_identity_floor(&qualified),
        )?;
    }
    std::fs::write(
        dir.join(format!("{size}_check.sql")),
        yardsticks::check(&format!("`{database}`.{PLAIN}")),
    )?;
    println!("  queries written to {}", dir.display());
    Ok(())
}
