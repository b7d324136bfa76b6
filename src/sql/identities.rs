//! The `identities` CTE: the per-identity stage of the metrics query, one row per identity that
//! counts, with its variant and its value for every metric.
//!
//! Each identity's metric events (`metric_events`, deduplicated) are joined to its assignment
//! (`assignments`, one row per identity: the hash table of the join) by `key`, the identifier's
//! 128-bit `sipHash128`: a fixed-width key the join hashes and compares in place, where the
//! identifier text costs the join a read of the string besides (figures in `benches/results.md`);
//! two identifiers with equal hashes would share their events, which at 128 bits is as
//! negligible as for `DISTINCT`. The joined rows are grouped by identity with plain aggregate
//! combinators (`countIf`, `sumIf`, `avgOrNullIf`; see `metric_values.rs`), so what an identity
//! costs is a few numbers, whatever its events. The
//! `RIGHT JOIN` keeps identities without any metric event (their event columns are the defaults:
//! `event` is empty, which no metric's event name is, so they count zero).
//!
//! The stage is self-contained (it reads only its two CTEs, which read the table by identity), so
//! it can run where the identity's events are, e.g. on the shard of a table sharded by
//! `identifier`, with only the per-variant aggregate after it merged elsewhere.

use super::query::Cte;

/// `values`: one expression per metric, the identity's value (`Float64`, `Nullable(Float64)` for
/// MEAN and RATIO), named `m0`, `m1`, … in order. `covariates` (empty without CUPED): per metric
/// its CUPED covariate (`Float64`) if it has one, named `x0`, `x1`, … by the metric's index.
/// `denominators`: per metric a RATIO's denominator (`Nullable(Float64)`, see `ratio.rs`), named
/// `d0`, `d1`, … by the metric's index. `levels`: per funnel metric its level (`UInt8`, steps
/// reached, see `funnel.rs`), named `s{m}`. `quantile_values`: per metric, an event quantile's
/// values (`Array(Float64)`), named `q{m}`.
pub(super) fn identities_cte(
    values: &[String],
    covariates: &[Option<String>],
    denominators: &[Option<String>],
    levels: &[Option<String>],
    quantile_values: &[Option<String>],
) -> Cte {
    let values = values
        .iter()
        .enumerate()
        .map(|(m, value)| format!(",\n    {value} AS m{m}"));
    let covariates = covariates
        .iter()
        .enumerate()
        .filter_map(|(m, x)| x.as_ref().map(|x| format!(",\n    {x} AS x{m}")));
    let denominators = denominators
        .iter()
        .enumerate()
        .filter_map(|(m, d)| d.as_ref().map(|d| format!(",\n    {d} AS d{m}")));
    let levels = levels
        .iter()
        .enumerate()
        .filter_map(|(m, s)| s.as_ref().map(|s| format!(",\n    {s} AS s{m}")));
    let quantile_values = quantile_values
        .iter()
        .enumerate()
        .filter_map(|(m, q)| q.as_ref().map(|q| format!(",\n    {q} AS q{m}")));
    let columns: String = values
        .chain(covariates)
        .chain(denominators)
        .chain(levels)
        .chain(quantile_values)
        .collect();
    let body = format!(
        "SELECT
    any(a.variant_index) AS variant_index{columns}
FROM metric_events AS e
RIGHT JOIN assignments AS a ON e.key = a.key
GROUP BY a.identity
"
    );
    Cte {
        name: "identities",
        body,
    }
}
