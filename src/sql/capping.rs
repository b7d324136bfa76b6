//! Outlier capping of NUMERIC metrics (COUNT, SUM, MEAN) in the metrics query: the `capped` CTE
//! between the per-identity stage and the per-variant aggregate.
//!
//! Each capped metric's per-identity value `m{m}` is clamped to `[lower, upper]` (a bound not set
//! does not apply), and so is its CUPED covariate `x{m}`, **with the same cap values** (those
//! computed from the metric's values over its window; the covariate's own values play no part).
//! `k{m}` marks the identities whose value was changed, counted per variant as
//! `capped_identities`; the cap values used are reported per variant as `cap_upper`, `cap_lower`.
//!
//! - ABSOLUTE: `upper` and `lower` are the cap values (bound `Float64` parameters).
//! - PERCENTILE: the cap values are the quantiles at levels `upper` and `lower` of the identities'
//!   values pooled across variants (every identity that counts, MEAN identities without a value
//!   left out, and with `ignoreZeros` identities whose value is 0 left out, as GrowthBook does by
//!   turning 0 into NULL). The quantile is GrowthBook's: ClickHouse's `quantile`, which is exact
//!   with linear interpolation between the closest ranks below its 8,192-value reservoir, i.e.
//!   PostgreSQL's `PERCENTILE_CONT` (GrowthBook's other warehouses); lift uses the exact
//!   `quantileExactInclusive` (the same interpolation at any size). They are window functions
//!   `OVER ()` over `identities`, so the events table is still read once. With no value to take
//!   the quantile of (NaN), nothing is capped and the cap value is reported as null. Memory: the
//!   window keeps the identities' rows and the quantile their values.
//!
//! Clusters: a pooled quantile needs every shard's values, so it cannot be added up from per-shard
//! rows; a PERCENTILE cap on `Placement::Cluster` is refused ([`CompileError::NotOnCluster`]).
//! ABSOLUTE caps are per identity, and capped counts add up like `n`.

use super::error::CompileError;
use super::param::Params;
use super::query::Cte;
use super::scope::{MetricSpec, Placement};
use crate::domain::metric::{Aggregation, CappingKind};

/// A capped metric's cap values, as expressions over `identities AS i` (`Float64`).
pub(super) struct BoundCap {
    upper: String,
    lower: Option<String>,
}

/// Binds metric `index`'s capping (`None` without one); refuses a PERCENTILE cap on a cluster.
pub(super) fn bind_cap(
    index: usize,
    spec: &MetricSpec,
    placement: &Placement,
    params: &mut Params,
) -> Result<Option<BoundCap>, CompileError> {
    let Some(capping) = spec.definition.capping else {
        return Ok(None);
    };
    let invalid = |reason: &str| CompileError::InvalidMetric {
        metric: index,
        reason: reason.to_owned(),
    };
    if !matches!(
        spec.aggregation,
        Aggregation::Count | Aggregation::Sum | Aggregation::Mean
    ) {
        return Err(invalid("capping applies to COUNT, SUM and MEAN metrics"));
    }
    let finite = capping.upper.is_finite() && capping.lower.is_none_or(f64::is_finite);
    if !finite || capping.lower.is_some_and(|lower| lower >= capping.upper) {
        return Err(invalid("the cap values must be finite, lower below upper"));
    }
    let m = format!("i.m{index}");
    Ok(Some(match capping.kind {
        CappingKind::Absolute => BoundCap {
            upper: params.float(capping.upper),
            lower: capping.lower.map(|lower| params.float(lower)),
        },
        CappingKind::Percentile => {
            if matches!(placement, Placement::Cluster(_)) {
                return Err(CompileError::NotOnCluster {
                    metric: index,
                    reason: "a PERCENTILE cap is a quantile of every identity's value, which \
                             shards cannot add up"
                        .into(),
                });
            }
            let levels_ok = |level: f64| (0.0..=1.0).contains(&level);
            if !levels_ok(capping.upper) || !capping.lower.is_none_or(levels_ok) {
                return Err(invalid("PERCENTILE cap levels are in [0, 1]"));
            }
            let mut counted = format!("isNotNull({m})");
            if capping.ignore_zeros {
                counted.push_str(&format!(" AND {m} != 0"));
            }
            let mut quantile = |level: f64| {
                format!(
                    "quantileExactInclusiveIf({})({m}, {counted}) OVER ()",
                    params.float(level)
                )
            };
            BoundCap {
                upper: quantile(capping.upper),
                lower: capping.lower.map(&mut quantile),
            }
        }
    }))
}

/// The `capped` CTE over `identities AS i`: every column of `identities` (`variant_index`, `m{m}`,
/// the CUPED `x{m}` in `covariates`, the funnel levels `s{m}` in `levels`), capped metrics' `m{m}`
/// and `x{m}` clamped, with their cap values `cu{m}`, `cl{m}` and the mark `k{m}`.
/// `source` is the per-identity stage it reads (`identities`, or a stage over it that keeps its
/// columns); `passthrough` names further columns of metrics that are not capped (a ratio's
/// denominator, an event quantile's values and threshold) to carry on unchanged.
pub(super) fn capped_cte(
    source: &str,
    caps: &[Option<BoundCap>],
    covariates: &[bool],
    levels: &[bool],
    passthrough: &[String],
) -> Cte {
    let mut columns = vec!["i.variant_index AS variant_index".to_owned()];
    for (m, cap) in caps.iter().enumerate() {
        let has_covariate = covariates.get(m).copied().unwrap_or(false);
        match cap {
            None => {
                columns.push(format!("i.m{m} AS m{m}"));
                if has_covariate {
                    columns.push(format!("i.x{m} AS x{m}"));
                }
            }
            Some(cap) => {
                columns.push(format!("{} AS cu{m}", cap.upper));
                let mut outside = format!("i.m{m} > cu{m}");
                if let Some(lower) = &cap.lower {
                    columns.push(format!("{lower} AS cl{m}"));
                    outside.push_str(&format!(" OR i.m{m} < cl{m}"));
                }
                let lowered = cap.lower.is_some();
                columns.push(format!("{} AS m{m}", clamp(&format!("i.m{m}"), m, lowered)));
                columns.push(format!("({outside}) AS k{m}"));
                if has_covariate {
                    columns.push(format!("{} AS x{m}", clamp(&format!("i.x{m}"), m, lowered)));
                }
            }
        }
        if levels.get(m).copied().unwrap_or(false) {
            columns.push(format!("i.s{m} AS s{m}"));
        }
    }
    columns.extend(
        passthrough
            .iter()
            .map(|column| format!("i.{column} AS {column}")),
    );
    Cte {
        name: "capped",
        body: format!(
            "SELECT\n    {}\nFROM {source} AS i\n",
            columns.join(",\n    ")
        ),
    }
}

/// `value` within metric `m`'s caps. Comparisons rather than `least`/`greatest` (which skip a
/// NULL argument): a MEAN identity without a value stays NULL, and a NaN cap (a quantile of no
/// values) compares false, so it caps nothing.
fn clamp(value: &str, m: usize, lowered: bool) -> String {
    let upper = format!("if({value} > cu{m}, cu{m}, {value})");
    match lowered {
        true => format!("if({upper} < cl{m}, cl{m}, {upper})"),
        false => upper,
    }
}

/// The per-variant arrays (one item per metric) of capped identities (`UInt64`), the upper and the
/// lower cap values (`Nullable(Float64)`, NULL for metrics without that cap), in that order.
pub(super) fn per_variant_caps(caps: &[Option<BoundCap>]) -> [String; 3] {
    let items = |item: &dyn Fn(usize, &BoundCap) -> Option<String>, none: &str| {
        caps.iter()
            .enumerate()
            .map(|(m, cap)| {
                cap.as_ref()
                    .and_then(|cap| item(m, cap))
                    .unwrap_or_else(|| none.to_owned())
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    [
        format!(
            "CAST([{}] AS Array(UInt64))",
            items(&|m, _| Some(format!("countIf(k{m})")), "0")
        ),
        format!(
            "CAST([{}] AS Array(Nullable(Float64)))",
            items(&|m, _| Some(format!("any(cu{m})")), "NULL")
        ),
        format!(
            "CAST([{}] AS Array(Nullable(Float64)))",
            items(
                &|m, cap| cap.lower.as_ref().map(|_| format!("any(cl{m})")),
                "NULL"
            )
        ),
    ]
}
