//! `RESULTS_BENCH_DUMP_SQL=DIR`: writes the three queries of each size to `DIR` for inspection
//! with curl (`EXPLAIN PIPELINE`, settings…): `<size>_lift_exposures.sql`,
//! `<size>_lift_metrics.sql` (with `.params`: one `param_pN=value` per line, the text the client
//! sends) and `<size>_hand.sql`.

use std::path::Path;

use lift::sql::{compile_exposures, compile_metrics, CompiledQuery, ResultsScope};

use crate::hand;

fn write(dir: &Path, name: &str, query: &CompiledQuery) -> std::io::Result<()> {
    std::fs::write(dir.join(format!("{name}.sql")), &query.sql)?;
    let params: String = query
        .params
        .iter()
        .map(|(k, v)| format!("param_{k}={}\n", v.to_clickhouse_text()))
        .collect();
    std::fs::write(dir.join(format!("{name}.params")), params)
}

pub fn dump(dir: &Path, size: u64, scope: &ResultsScope, database: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    write(
        dir,
        &format!("{size}_lift_exposures"),
        &compile_exposures(scope)?,
    )?;
    write(
        dir,
        &format!("{size}_lift_metrics"),
        &compile_metrics(scope)?,
    )?;
    std::fs::write(
        dir.join(format!("{size}_hand.sql")),
        hand::metrics_sql(database),
    )?;
    println!("  queries written to {}", dir.display());
    Ok(())
}
