//! [`compile_metrics`]: the sufficient statistics `n, sum, sum_sq` of every metric per variant
//! (with CUPED also `sum_x, sum_x2, sum_xy`, see `covariates.rs`): `assignments` (exposure rows
//! by identity) and `metric_events` (each event once, with the typed columns the metrics need) are
//! joined in the per-identity stage `identities`, whose values are then aggregated per variant.

use chrono::{DateTime, Duration, Utc};

use super::capping::{
    bind_cap, capped_cte, per_variant_caps, pooled_columns, pooled_sums, BoundCap, PooledSums,
};
use super::cluster::{merged_on_cluster, ShardMerge};
use super::covariates::{bind_lookback, covariate_value, per_variant_sums};
use super::error::CompileError;
use super::exposures::assignments_cte;
use super::funnel::per_variant_steps;
use super::identities::identities_cte;
use super::metric_events::{metric_events_cte, Carried};
use super::metric_values::{
    funnel_level, metric_parts, metric_value, quantile_of, quantile_values, MetricParts, Period,
};
use super::param::Params;
use super::quantile::{self, BoundQuantile};
use super::query::{assemble, CompiledQuery};
use super::ratio::{self, is_ratio, ratio_events, ratio_values};
use super::scope::{BoundScope, EventsTableKind, Placement, ResultsScope};
use crate::domain::metric::QuantileOver;

/// Rows `metric UInt32, variant String, n UInt64, sum Float64, sum_sq Float64`, one per
/// (metric, variant) with `n > 0`, ordered by metric then variant (scope order). `metric` indexes
/// `scope.metrics`; `sum` and `sum_sq` add the identities' values and their squares. `kind` says
/// how the events table removes duplicates (see `metric_events.rs`). With
/// `scope.cuped_lookback`, each row also has `sum_x, sum_x2, sum_xy Nullable(Float64)`: Σx, Σx²
/// and Σxy over the same identities, `x` the CUPED covariate (NULL for MEAN, RATIO and QUANTILE
/// metrics). Every row has `den_sum, den_sum_sq, num_den_sum Nullable(Float64)`: a RATIO metric's
/// Σd, Σd² and Σm·d (its `sum` and `sum_sq` are the numerators'), NULL for other metrics
/// (`ratio.rs`); `step_reached Array(UInt64)` (funnels: identities reaching each step, see
/// `funnel.rs`; empty otherwise), `capped_identities UInt64` and `cap_upper`, `cap_lower
/// Nullable(Float64)` (capped metrics: identities whose value was capped and the cap values used,
/// see `capping.rs`; 0 and NULL otherwise); the QUANTILE columns of `quantile.rs`
/// (`quantile::ROW_COLUMNS`, NULL for other metrics). QUANTILE metrics on a cluster are refused
/// (`QuantileOnCluster`).
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
    // A funnel's steps bind their own names (`funnel.rs`); its `event` is empty.
    let name_of = |event: &str| {
        names
            .iter()
            .position(|name| name == event)
            .map_or(String::new(), |k| name_params[k].clone())
    };
    let mut carried = Carried::default();
    let parts = scope
        .metrics
        .iter()
        .enumerate()
        .map(|(index, spec)| match is_ratio(spec) {
            true => ratio_values(index, spec, &bound, &name_of, &mut carried, &mut params)
                .map(Compiled::Ratio),
            false => {
                let name = name_of(&spec.definition.event);
                metric_parts(index, spec, &bound, &name, &mut carried, &mut params)
                    .map(Compiled::Single)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let values: Vec<String> = parts
        .iter()
        .map(|parts| match parts {
            Compiled::Single(parts) => metric_value(parts, Period::Window),
            Compiled::Ratio(ratio) => ratio.value.clone(),
        })
        .collect();
    let denominators: Vec<Option<String>> = parts
        .iter()
        .map(|parts| match parts {
            Compiled::Single(_) => None,
            Compiled::Ratio(ratio) => Some(ratio.denominator.clone()),
        })
        .collect();
    // Bound after the metrics, so that CUPED leaves their text (and placeholders) as they are.
    let lookback = scope
        .cuped_lookback
        .map(|lookback| bind_lookback(lookback, scope.start, &mut params))
        .transpose()?;
    let covariates: Vec<Option<String>> = match &lookback {
        Some(lookback) => (scope.metrics.iter().zip(&parts))
            .map(|(spec, parts)| match parts {
                Compiled::Single(parts) => covariate_value(spec, parts, lookback),
                Compiled::Ratio(_) => None,
            })
            .collect(),
        None => Vec::new(),
    };
    let quantiles: Vec<Option<BoundQuantile>> = parts
        .iter()
        .map(|p| single(p).and_then(quantile_of).cloned())
        .collect();
    let quantile_values: Vec<Option<String>> = parts
        .iter()
        .map(|p| single(p).and_then(quantile_values))
        .collect();
    if quantiles.iter().any(Option::is_some)
        && matches!(scope.table.placement, Placement::Cluster(_))
    {
        return Err(CompileError::QuantileOnCluster);
    }
    // With CUPED the scan starts a lookback before the experiment, where the earliest covariate
    // period (of an identity exposed at the start) begins.
    let scan_start = lookback.as_ref().map_or(&bound.start, |l| &l.scan_start);
    let funnels: Vec<Option<(String, usize)>> = parts
        .iter()
        .map(|parts| single(parts).and_then(funnel_level))
        .collect();
    let levels: Vec<Option<String>> = funnels
        .iter()
        .map(|f| f.as_ref().map(|(level, _)| level.clone()))
        .collect();
    let caps = (scope.metrics.iter().enumerate())
        .map(|(index, spec)| bind_cap(index, spec, &scope.table.placement, &mut params))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ctes = vec![
        assignments_cte(&bound),
        metric_events_cte(&bound, kind, &events, scan_start, &scan_end, &carried),
        identities_cte(
            &values,
            &covariates,
            &denominators,
            &levels,
            &quantile_values,
        ),
    ];
    let mut source = "identities";
    let with_covariate: Vec<bool> = (0..caps.len())
        .map(|m| covariates.get(m).is_some_and(Option::is_some))
        .collect();
    // ABSOLUTE caps clamp each identity's values before the per-variant aggregate; without one
    // that stage is left out. A metric without one passes its columns through (PERCENTILE caps
    // apply per variant, `capping.rs`).
    if caps
        .iter()
        .any(|c| matches!(c, Some(BoundCap::Fixed { .. })))
    {
        let with_level: Vec<bool> = (0..caps.len()).map(|m| levels[m].is_some()).collect();
        let passthrough: Vec<String> = (0..caps.len())
            .flat_map(|m| {
                let denominator = denominators[m].is_some().then(|| format!("d{m}"));
                let events = quantiles[m]
                    .as_ref()
                    .filter(|q| q.over == QuantileOver::Events)
                    .map(|_| format!("q{m}"));
                denominator.into_iter().chain(events)
            })
            .collect();
        ctes.push(capped_cte(
            source,
            &caps,
            &with_covariate,
            &with_level,
            &passthrough,
        ));
        source = "capped";
    }
    let steps: Vec<Option<usize>> = funnels.iter().map(|f| f.as_ref().map(|f| f.1)).collect();
    let settings = match kind {
        EventsTableKind::Deduplicating => {
            "SETTINGS do_not_merge_across_partitions_select_final = 1\n"
        }
        EventsTableKind::Plain => "",
    };
    let select = per_variant_select(
        &bound,
        values.len(),
        &denominators,
        lookback.is_some().then_some(&covariates),
        &KindColumns {
            source,
            steps: &steps,
            caps: &caps,
            covariates: &with_covariate,
            quantiles: &quantiles,
        },
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
            let mut sums = vec!["n", "sum", "sum_sq", "den_sum", "den_sum_sq", "num_den_sum"];
            if lookback.is_some() {
                sums.extend(["sum_x", "sum_x2", "sum_xy"]);
            }
            sums.push("capped_identities");
            // NULL on every shard (QUANTILE metrics are refused above), so their "sums" stay NULL.
            sums.extend(quantile::ROW_COLUMNS);
            let merge = ShardMerge {
                keys: &["metric", "variant"],
                sums: &sums,
                elementwise_sums: &["step_reached"],
                // A PERCENTILE cap is refused on a cluster: these are ABSOLUTE caps or NULL.
                same: &["cap_upper", "cap_lower"],
                order_by: &order,
            };
            let per_shard = assemble(&ctes, &format!("{select}{settings}"), params);
            merged_on_cluster(per_shard, cluster, &merge)
        }
    })
}

/// A single-event metric's parts; `None` for a ratio.
fn single(parts: &Compiled) -> Option<&MetricParts> {
    match parts {
        Compiled::Single(parts) => Some(parts),
        Compiled::Ratio(_) => None,
    }
}

/// What the per-variant select reads besides the sums: its `source` (`identities`, or `capped`
/// when a metric has an ABSOLUTE cap),
/// funnels' numbers of steps (`step_reached`), the caps (`capped_identities`, `cap_upper`,
/// `cap_lower`; PERCENTILE caps also replace their metric's sums) and which metrics have a CUPED
/// covariate, and the quantiles' columns (`quantile.rs`); the columns are there for every metric
/// (empty, 0 or NULL for metrics of other kinds).
struct KindColumns<'a> {
    source: &'a str,
    steps: &'a [Option<usize>],
    caps: &'a [Option<BoundCap>],
    covariates: &'a [bool],
    quantiles: &'a [Option<BoundQuantile>],
}

/// The final `SELECT` (without `ORDER BY`) over the source's metrics columns `m{m}`, RATIO
/// metrics' denominators `d{m}`, and with CUPED the covariates `x{m}`. Per variant first (a few
/// rows), then one row per (metric, variant): aggregating the identities once for every metric, rather than once per metric after
/// an `ARRAY JOIN`.
fn per_variant_select(
    bound: &BoundScope,
    metrics: usize,
    denominators: &[Option<String>],
    covariates: Option<&Vec<Option<String>>>,
    kinds: &KindColumns<'_>,
) -> String {
    let each = |aggregate: &dyn Fn(usize) -> String| {
        (0..metrics).map(aggregate).collect::<Vec<_>>().join(", ")
    };
    let pooled = pooled_sums(kinds.caps, kinds.covariates);
    let pooled_or = |m: usize, sum: &dyn Fn(&PooledSums) -> String, otherwise: String| {
        pooled
            .get(m)
            .and_then(Option::as_ref)
            .map_or(otherwise, sum)
    };
    let (columns, arrays, spread) = match covariates {
        Some(covariates) => {
            let pooled_covariates: Vec<Option<[String; 3]>> = pooled
                .iter()
                .map(|p| p.as_ref().and_then(|p| p.covariate.clone()))
                .collect();
            let [x, x2, xy] = per_variant_sums(covariates, &pooled_covariates);
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
    let [capped, cap_upper, cap_lower] = per_variant_caps(kinds.caps, kinds.covariates);
    // Named before the arrays that read them: PERCENTILE caps' and event quantiles' per-variant
    // values and the quantiles over them.
    let named: String = pooled_columns(kinds.caps, kinds.covariates)
        .into_iter()
        .chain(quantile::per_variant_columns_before(kinds.quantiles))
        .map(|column| format!("\n        {column},"))
        .collect();
    let [d, d2, md] = ratio::per_variant_sums(denominators);
    format!(
        "SELECT
    toUInt32(metric_index - 1) AS metric,
    arrayElement({variants}, variant_index) AS variant,
    n,
    sum,
    sum_sq,
    den_sum,
    den_sum_sq,
    num_den_sum{columns},
    step_reached,
    capped_identities,
    cap_upper,
    cap_lower{quantile_columns}
FROM (
    SELECT
        variant_index,{named}
        [{n}] AS n_by_metric,
        [{sum}] AS sum_by_metric,
        [{sum_sq}] AS sum_sq_by_metric,
        {d} AS den_sum_by_metric,
        {d2} AS den_sum_sq_by_metric,
        {md} AS num_den_sum_by_metric{arrays},
        {steps} AS step_reached_by_metric,
        {capped} AS capped_by_metric,
        {cap_upper} AS cap_upper_by_metric,
        {cap_lower} AS cap_lower_by_metric{quantile_arrays}
    FROM {source}
    GROUP BY variant_index
)
ARRAY JOIN
    n_by_metric AS n,
    sum_by_metric AS sum,
    sum_sq_by_metric AS sum_sq,
    den_sum_by_metric AS den_sum,
    den_sum_sq_by_metric AS den_sum_sq,
    num_den_sum_by_metric AS num_den_sum,{spread}
    step_reached_by_metric AS step_reached,
    capped_by_metric AS capped_identities,
    cap_upper_by_metric AS cap_upper,
    cap_lower_by_metric AS cap_lower,{quantile_spread}
    arrayEnumerate(n_by_metric) AS metric_index
WHERE n > 0
",
        steps = per_variant_steps(kinds.steps),
        source = kinds.source,
        variants = bound.variant_array(),
        n = each(&|m| format!("count(m{m})")),
        sum = each(&|m| pooled_or(m, &|p| p.sum.clone(), format!("sum(ifNull(m{m}, 0))"))),
        sum_sq = each(&|m| pooled_or(
            m,
            &|p| p.sum_sq.clone(),
            format!("sum(ifNull(m{m} * m{m}, 0))")
        )),
        quantile_columns = quantile::per_variant_columns(),
        quantile_arrays = quantile::per_variant_arrays(kinds.quantiles),
        quantile_spread = quantile::per_variant_spread(),
    )
}

/// The metrics' event names (a ratio's numerator's and denominator's), each once, in first-use
/// order.
fn metric_event_names(scope: &ResultsScope) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for spec in &scope.metrics {
        let definition = &spec.definition;
        let events: Vec<&str> = match is_ratio(spec) {
            true => ratio_events(spec),
            false => std::iter::once(definition.event.as_str())
                .chain(definition.steps.iter().map(|step| step.event.as_str()))
                .collect(),
        };
        for event in events {
            if !event.is_empty() && !names.iter().any(|name| name == event) {
                names.push(event.to_owned());
            }
        }
    }
    names
}

/// A metric checked and bound: a single-event metric's parts, or a ratio's two values.
enum Compiled {
    Single(MetricParts),
    Ratio(ratio::RatioValues),
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
