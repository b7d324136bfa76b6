//! [`compile_metrics`]: the sufficient statistics `n, sum, sum_sq` of every metric per variant
//! (with CUPED also `sum_x, sum_x2, sum_xy`, see `covariates.rs`): `assignments` (exposure rows
//! by identity) and `metric_events` (each event once, with the typed columns the metrics need) are
//! joined in the per-identity stage `identities`, whose values are then aggregated per variant.

use chrono::{DateTime, Duration, Utc};

use super::cluster::{merged_on_cluster, ShardMerge};
use super::covariates::{bind_lookback, covariate_value, per_variant_sums};
use super::error::CompileError;
use super::exposures::assignments_cte;
use super::identities::identities_cte;
use super::metric_events::{metric_events_cte, Carried};
use super::metric_values::{metric_parts, metric_value, quantile_of, quantile_values, Period};
use super::param::Params;
use super::quantile::{self, BoundQuantile};
use super::query::{assemble, CompiledQuery};
use super::scope::{BoundScope, EventsTableKind, Placement, ResultsScope};

/// Rows `metric UInt32, variant String, n UInt64, sum Float64, sum_sq Float64`, one per
/// (metric, variant) with `n > 0`, ordered by metric then variant (scope order). `metric` indexes
/// `scope.metrics`; `sum` and `sum_sq` add the identities' values and their squares. `kind` says
/// how the events table removes duplicates (see `metric_events.rs`). With
/// `scope.cuped_lookback`, each row also has `sum_x, sum_x2, sum_xy Nullable(Float64)`: Σx, Σx²
/// and Σxy over the same identities, `x` the CUPED covariate (NULL for MEAN and QUANTILE
/// metrics). Every row also has the QUANTILE columns of `quantile.rs` (`quantile::ROW_COLUMNS`,
/// NULL for other metrics). QUANTILE metrics on a cluster are refused (`QuantileOnCluster`).
pub fn compile_metrics(
    scope: &ResultsScope,
    kind: EventsTableKind,
) -> Result<CompiledQuery, CompileError> {
    if scope.metrics.is_empty() {
        return Err(CompileError::NoMetrics);
    }
    let mut params = Params::new();
    let bound = BoundScope::bind(scope, &mut params)?;
    let names = metric_event_names(scope);
    let events = params.strings(&names);
    let scan_end = match last_counted_instant(scope)? {
        Some(instant) => params.datetime(instant),
        None => bound.end.clone(),
    };
    let name_params: Vec<String> = names.iter().map(|name| params.string(name)).collect();
    let name_of = |event: &String| {
        let k = names
            .iter()
            .position(|name| name == event)
            .expect("every metric's event is among the names");
        &name_params[k]
    };
    let mut carried = Carried::default();
    let parts = scope
        .metrics
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            let name = name_of(&spec.definition.event);
            metric_parts(index, spec, &bound, name, &mut carried, &mut params)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let values: Vec<String> = parts
        .iter()
        .map(|parts| metric_value(parts, Period::Window))
        .collect();
    // Bound after the metrics, so that CUPED leaves their text (and placeholders) as they are.
    let lookback = scope
        .cuped_lookback
        .map(|lookback| bind_lookback(lookback, scope.start, &mut params))
        .transpose()?;
    let covariates: Vec<Option<String>> = match &lookback {
        Some(lookback) => (scope.metrics.iter().zip(&parts))
            .map(|(spec, parts)| covariate_value(spec, parts, lookback))
            .collect(),
        None => Vec::new(),
    };
    let quantiles: Vec<Option<BoundQuantile>> =
        parts.iter().map(|p| quantile_of(p).cloned()).collect();
    let quantile_values: Vec<Option<String>> = parts.iter().map(quantile_values).collect();
    if quantiles.iter().any(Option::is_some)
        && matches!(scope.table.placement, Placement::Cluster(_))
    {
        return Err(CompileError::QuantileOnCluster);
    }
    // With CUPED the scan starts a lookback before the experiment, where the earliest covariate
    // period (of an identity exposed at the start) begins.
    let scan_start = lookback.as_ref().map_or(&bound.start, |l| &l.scan_start);
    let mut ctes = vec![
        assignments_cte(&bound),
        metric_events_cte(&bound, kind, &events, scan_start, &scan_end, &carried),
        identities_cte(&values, &covariates, &quantile_values),
    ];
    let source = match quantile::thresholds_cte(&quantiles) {
        Some(thresholds) => {
            ctes.push(thresholds);
            "quantile_thresholds"
        }
        None => "identities",
    };
    let settings = match kind {
        EventsTableKind::Deduplicating => {
            "SETTINGS do_not_merge_across_partitions_select_final = 1\n"
        }
        EventsTableKind::Plain => "",
    };
    let select = per_variant_select(
        &bound,
        source,
        lookback.is_some().then_some(&covariates),
        &quantiles,
    );
    Ok(match &scope.table.placement {
        Placement::Single => assemble(
            &ctes,
            &format!("{select}ORDER BY metric, variant_index\n{settings}"),
            params,
        ),
        // Each shard runs the whole query over its local table (an identity's events live on
        // one shard); the initiator adds up the per-(metric, variant) rows.
        Placement::Cluster(cluster) => {
            let order = format!("metric, indexOf({}, variant)", bound.variant_array());
            let mut sums = vec!["n", "sum", "sum_sq"];
            if lookback.is_some() {
                sums.extend(["sum_x", "sum_x2", "sum_xy"]);
            }
            // NULL on every shard (QUANTILE metrics are refused above), so their "sums" stay NULL.
            sums.extend(quantile::ROW_COLUMNS);
            let merge = ShardMerge {
                keys: &["metric", "variant"],
                sums: &sums,
                order_by: &order,
            };
            let per_shard = assemble(&ctes, &format!("{select}{settings}"), params);
            merged_on_cluster(per_shard, cluster, &merge)
        }
    })
}

/// The final `SELECT` (without `ORDER BY`) over `source`'s (`identities`, or with event quantiles
/// `quantile_thresholds`) metrics columns `m{m}`, with CUPED its covariates `x{m}`, and the
/// quantiles' columns (`quantile.rs`). Per variant first (a few rows), then one row per (metric,
/// variant): aggregating the identities once for every metric, rather than once per metric after
/// an `ARRAY JOIN`.
fn per_variant_select(
    bound: &BoundScope,
    source: &str,
    covariates: Option<&Vec<Option<String>>>,
    quantiles: &[Option<BoundQuantile>],
) -> String {
    let metrics = quantiles.len();
    let each = |aggregate: &dyn Fn(usize) -> String| {
        (0..metrics).map(aggregate).collect::<Vec<_>>().join(", ")
    };
    let (columns, arrays, spread) = match covariates {
        Some(covariates) => {
            let [x, x2, xy] = per_variant_sums(covariates);
            (
                ",\n    sum_x,\n    sum_x2,\n    sum_xy".to_owned(),
                format!(
                    ",\n        {x} AS sum_x_by_metric,\n        {x2} AS sum_x2_by_metric,\n        \
                     {xy} AS sum_xy_by_metric"
                ),
                "\n    sum_x_by_metric AS sum_x,\n    sum_x2_by_metric AS sum_x2,\n    \
                 sum_xy_by_metric AS sum_xy,"
                    .to_owned(),
            )
        }
        None => (String::new(), String::new(), String::new()),
    };
    format!(
        "SELECT
    toUInt32(metric_index - 1) AS metric,
    arrayElement({variants}, variant_index) AS variant,
    n,
    sum,
    sum_sq{columns}{quantile_columns}
FROM (
    SELECT
        variant_index,
        [{n}] AS n_by_metric,
        [{sum}] AS sum_by_metric,
        [{sum_sq}] AS sum_sq_by_metric{arrays}{quantile_arrays}
    FROM {source}
    GROUP BY variant_index
)
ARRAY JOIN
    n_by_metric AS n,
    sum_by_metric AS sum,
    sum_sq_by_metric AS sum_sq,{spread}{quantile_spread}
    arrayEnumerate(n_by_metric) AS metric_index
WHERE n > 0
",
        variants = bound.variant_array(),
        n = each(&|m| format!("count(m{m})")),
        sum = each(&|m| format!("sum(ifNull(m{m}, 0))")),
        sum_sq = each(&|m| format!("sum(ifNull(m{m} * m{m}, 0))")),
        quantile_columns = quantile::per_variant_columns(),
        quantile_arrays = quantile::per_variant_arrays(quantiles),
        quantile_spread = quantile::per_variant_spread(),
    )
}

/// The metrics' event names, each once, in first-use order.
fn metric_event_names(scope: &ResultsScope) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for spec in &scope.metrics {
        if !names.contains(&spec.definition.event) {
            names.push(spec.definition.event.clone());
        }
    }
    names
}

/// When a window ends after the experiment end, the latest instant an event can count
/// (`end` + the longest window); `None` when no metric counts past `end`.
fn last_counted_instant(scope: &ResultsScope) -> Result<Option<DateTime<Utc>>, CompileError> {
    let longest = scope
        .metrics
        .iter()
        .filter_map(|spec| spec.definition.window.and_then(|w| w.end_seconds))
        .max();
    match longest {
        Some(seconds) if seconds > 0 => Duration::try_seconds(seconds)
            .and_then(|d| scope.end.checked_add_signed(d))
            .map(Some)
            .ok_or(CompileError::WindowOutOfRange),
        _ => Ok(None),
    }
}
