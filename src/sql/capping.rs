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
//!   PostgreSQL's `PERCENTILE_CONT` (GrowthBook's other warehouses); lift takes
//!   `quantilesExactInclusive`, the same interpolation at any size. With no value to take the
//!   quantile of (NaN), nothing is capped and the cap value is reported as null.
//!
//! Where the caps apply: an ABSOLUTE cap per identity, in the `capped` CTE. A PERCENTILE cap
//! cannot be known until every identity is aggregated, and a window over the identities (`OVER
//! ()`) would hold every identity's whole row in memory, with no spilling: at 100M events that
//! alone exceeded the 4 GB limit. So a PERCENTILE-capped metric passes `capped` unchanged and is
//! capped in the per-variant select ([`pooled_columns`]): per variant it keeps its values other
//! than 0 (`v{m}`, with CUPED the (value, covariate) pairs other than (0, 0)) and the number of
//! zeros (`z{m}`); the cap values are the quantiles of a window over the few per-variant rows, whose
//! aggregate state holds the pool once; the capped sums are lambdas over `v{m}` plus `z{m}` times
//! the clamped 0 ([`pooled_sums`]). The events table is still read once; memory is 8 bytes per
//! identity with a value other than 0 (16 with CUPED) in `v{m}`, and 8 per counted identity in
//! the pool. Clamping every identity's value in lambdas, zeros included, took more than the 4 GB
//! limit at 100M events (`benches/results.md`).
//!
//! Clusters: a pooled quantile needs every shard's values, so it cannot be added up from per-shard
//! rows; a PERCENTILE cap on `Placement::Cluster` is refused ([`CompileError::NotOnCluster`]).
//! ABSOLUTE caps are per identity, and capped counts add up like `n`.

use super::error::CompileError;
use super::param::Params;
use super::query::Cte;
use super::scope::{MetricSpec, Placement};
use crate::domain::metric::{Aggregation, CappingKind};

/// A capped metric's cap: ABSOLUTE values (bound `Float64` parameters), applied to each identity in
/// `capped`; or PERCENTILE levels, whose values are the pooled quantiles taken in the per-variant
/// select.
pub(super) enum BoundCap {
    Fixed {
        upper: String,
        lower: Option<String>,
    },
    Pooled {
        upper: String,
        lower: Option<String>,
        ignore_zeros: bool,
    },
}

impl BoundCap {
    fn has_lower(&self) -> bool {
        match self {
            BoundCap::Fixed { lower, .. } | BoundCap::Pooled { lower, .. } => lower.is_some(),
        }
    }
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
    Ok(Some(match capping.kind {
        CappingKind::Absolute => BoundCap::Fixed {
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
            BoundCap::Pooled {
                upper: params.float(capping.upper),
                lower: capping.lower.map(|lower| params.float(lower)),
                ignore_zeros: capping.ignore_zeros,
            }
        }
    }))
}

/// The `capped` CTE over `identities AS i`: every column of `identities` (`variant_index`, `m{m}`,
/// the CUPED `x{m}` in `covariates`, the funnel levels `s{m}` in `levels`), ABSOLUTE-capped
/// metrics' `m{m}` and `x{m}` clamped, with their cap values `cu{m}`, `cl{m}` and the mark `k{m}`
/// (PERCENTILE-capped metrics pass unchanged, see the module's comment).
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
            Some(BoundCap::Fixed { upper, lower }) => {
                columns.push(format!("{upper} AS cu{m}"));
                if let Some(lower) = lower {
                    columns.push(format!("{lower} AS cl{m}"));
                }
                let lowered = lower.is_some();
                columns.push(format!("{} AS m{m}", clamp(&format!("i.m{m}"), m, lowered)));
                columns.push(format!(
                    "{} AS k{m}",
                    outside(&format!("i.m{m}"), m, lowered)
                ));
                if has_covariate {
                    columns.push(format!("{} AS x{m}", clamp(&format!("i.x{m}"), m, lowered)));
                }
            }
            None | Some(BoundCap::Pooled { .. }) => {
                columns.push(format!("i.m{m} AS m{m}"));
                if has_covariate {
                    columns.push(format!("i.x{m} AS x{m}"));
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

/// Whether `value` is outside metric `m`'s caps (`cu{m}`, `cl{m}`).
fn outside(value: &str, m: usize, lowered: bool) -> String {
    let (upper, lower) = cap_names(m, lowered);
    outside_of(value, &upper, lower.as_deref())
}

fn outside_of(value: &str, upper: &str, lower: Option<&str>) -> String {
    match lower {
        Some(lower) => format!("({value} > {upper} OR {value} < {lower})"),
        None => format!("({value} > {upper})"),
    }
}

/// Metric `m`'s cap columns: `cu{m}` and, when it has a lower cap, `cl{m}`.
fn cap_names(m: usize, lowered: bool) -> (String, Option<String>) {
    (format!("cu{m}"), lowered.then(|| format!("cl{m}")))
}

/// `value` within metric `m`'s caps. Comparisons rather than `least`/`greatest` (which skip a
/// NULL argument): a MEAN identity without a value stays NULL, and a NaN cap (a quantile of no
/// values) compares false, so it caps nothing.
fn clamp(value: &str, m: usize, lowered: bool) -> String {
    let (upper, lower) = cap_names(m, lowered);
    clamp_to(value, &upper, lower.as_deref())
}

fn clamp_to(value: &str, upper: &str, lower: Option<&str>) -> String {
    let capped = format!("if({value} > {upper}, {upper}, {value})");
    match lower {
        Some(lower) => format!("if({capped} < {lower}, {lower}, {capped})"),
        None => capped,
    }
}

/// `function((v, u[, l]) -> body, v{m}, …)`: `body` over each of PERCENTILE-capped metric `m`'s
/// per-variant values `v`, with its cap values `u`, `l` passed beside them as arrays. The lambda
/// must capture nothing: ClickHouse evaluates a captured alias inside the lambda, and the cap
/// values' expression holds the pool, which would then be copied for every element.
fn over_values(function: &str, m: usize, lowered: bool, body: &str) -> String {
    let beside = |cap: &str| format!("arrayWithConstant(length(v{m}), {cap})");
    match lowered {
        true => format!(
            "{function}((v, u, l) -> {body}, v{m}, {}, {})",
            beside(&format!("cu{m}")),
            beside(&format!("cl{m}"))
        ),
        false => format!(
            "{function}((v, u) -> {body}, v{m}, {})",
            beside(&format!("cu{m}"))
        ),
    }
}

/// The names [`over_values`]' lambda gives the cap values.
fn lambda_caps(lowered: bool) -> (&'static str, Option<&'static str>) {
    ("u", lowered.then_some("l"))
}

/// The per-variant arrays (one item per metric) of capped identities (`UInt64`), the upper and the
/// lower cap values (`Nullable(Float64)`, NULL for metrics without that cap), in that order.
/// `covariates` says which metrics have a CUPED covariate.
pub(super) fn per_variant_caps(caps: &[Option<BoundCap>], covariates: &[bool]) -> [String; 3] {
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
    let capped = |m: usize, cap: &BoundCap| match cap {
        BoundCap::Fixed { .. } => format!("countIf(k{m})"),
        BoundCap::Pooled { .. } => {
            let lowered = cap.has_lower();
            let (upper, lower) = lambda_caps(lowered);
            let outside_value = outside_of(pooled_value(covariates, m), upper, lower);
            format!(
                "toUInt64({} + if({}, z{m}, 0))",
                over_values("arrayCount", m, lowered, &outside_value),
                outside("0", m, lowered)
            )
        }
    };
    // Per variant after the pooled window, so the value itself; a fixed cap is on every row.
    let value = |cap: &BoundCap, column: String| match cap {
        BoundCap::Fixed { .. } => format!("any({column})"),
        BoundCap::Pooled { .. } => column,
    };
    [
        format!(
            "CAST([{}] AS Array(UInt64))",
            items(&|m, cap| Some(capped(m, cap)), "0")
        ),
        format!(
            "CAST([{}] AS Array(Nullable(Float64)))",
            items(&|m, cap| Some(value(cap, format!("cu{m}"))), "NULL")
        ),
        format!(
            "CAST([{}] AS Array(Nullable(Float64)))",
            items(
                &|m, cap| cap.has_lower().then(|| value(cap, format!("cl{m}"))),
                "NULL"
            )
        ),
    ]
}

/// A PERCENTILE-capped metric's value in a lambda `v -> …` over `v{m}`: the element, or with a
/// covariate the first of the (value, covariate) pair.
fn pooled_value(covariates: &[bool], m: usize) -> &'static str {
    match covariates.get(m).copied().unwrap_or(false) {
        true => "v.1",
        false => "v",
    }
}

/// The columns the per-variant select defines for its PERCENTILE-capped metrics (empty when
/// there are none):
/// - `v{m}`, this variant's values of metric `m` other than 0 (with a covariate, in
///   `covariates`, the (value, covariate) pairs other than (0, 0)); MEAN identities without a
///   value are left out;
/// - `z{m}`, the number of this variant's identities left out of `v{m}` for being 0 (or (0, 0)):
///   each adds its clamped 0 to the sums, so the lambdas over `v{m}` run over the non-zero values
///   only, which for a typical revenue metric are a small share of the identities;
/// - `c{m}`, the cap values `[upper]` or `[upper, lower]`: `quantilesExactInclusive` over every
///   variant's values that count (its zeros given back unless `ignoreZeros`), a window over the
///   per-variant rows, so the pool is held once, in the aggregate's state; and `cu{m}`, `cl{m}`.
pub(super) fn pooled_columns(caps: &[Option<BoundCap>], covariates: &[bool]) -> Vec<String> {
    let mut columns = Vec::new();
    for (m, cap) in caps.iter().enumerate() {
        let Some(BoundCap::Pooled {
            upper,
            lower,
            ignore_zeros,
        }) = cap
        else {
            continue;
        };
        let counted = match covariates.get(m).copied().unwrap_or(false) {
            true => {
                columns.push(format!(
                    "groupArrayIf((m{m}, x{m}), isNotNull(m{m}) AND (m{m} != 0 OR x{m} != 0)) \
                     AS v{m}"
                ));
                // The pairs keep the values 0 whose covariate is not.
                match ignore_zeros {
                    true => format!("arrayFilter(v -> v != 0, arrayMap(p -> p.1, v{m}))"),
                    false => format!("arrayMap(p -> p.1, v{m})"),
                }
            }
            false => {
                columns.push(format!("groupArrayIf(m{m}, m{m} != 0) AS v{m}"));
                format!("v{m}")
            }
        };
        let zeros = match covariates.get(m).copied().unwrap_or(false) {
            true => format!("countIf(m{m} = 0 AND x{m} = 0)"),
            false => format!("countIf(m{m} = 0)"),
        };
        columns.push(format!("{zeros} AS z{m}"));
        let counted = match ignore_zeros {
            true => counted,
            false => format!("arrayResize({counted}, length({counted}) + z{m}, 0.)"),
        };
        let levels = match lower {
            Some(lower) => format!("{upper}, {lower}"),
            None => upper.clone(),
        };
        columns.push(format!(
            "quantilesExactInclusiveArray({levels})({counted}) OVER () AS c{m}"
        ));
        columns.push(format!("c{m}[1] AS cu{m}"));
        if lower.is_some() {
            columns.push(format!("c{m}[2] AS cl{m}"));
        }
    }
    columns
}

/// For each metric, with a PERCENTILE cap, its capped per-variant sums over `v{m}`: Σm and Σm²,
/// and with a covariate Σx, Σx², Σxy (both clamped to the metric's caps); `None` for others.
pub(super) fn pooled_sums(
    caps: &[Option<BoundCap>],
    covariates: &[bool],
) -> Vec<Option<PooledSums>> {
    caps.iter()
        .enumerate()
        .map(|(m, cap)| {
            let cap = cap
                .as_ref()
                .filter(|c| matches!(c, BoundCap::Pooled { .. }))?;
            let lowered = cap.has_lower();
            let (upper, lower) = lambda_caps(lowered);
            // The identities left out of `v{m}` (`z{m}`) each add their clamped 0.
            let zero = clamp("0", m, lowered);
            let sums = |value: &str, other: Option<&str>| {
                let c = clamp_to(value, upper, lower);
                let product = match other {
                    Some(other) => format!("{c} * {}", clamp_to(other, upper, lower)),
                    None => format!("{c} * {c}"),
                };
                [
                    format!(
                        "({} + z{m} * {zero})",
                        over_values("arraySum", m, lowered, &c)
                    ),
                    format!(
                        "({} + z{m} * {zero} * {zero})",
                        over_values("arraySum", m, lowered, &product)
                    ),
                ]
            };
            Some(match covariates.get(m).copied().unwrap_or(false) {
                false => {
                    let [sum, sum_sq] = sums("v", None);
                    PooledSums {
                        sum,
                        sum_sq,
                        covariate: None,
                    }
                }
                true => {
                    let [sum, sum_sq] = sums("v.1", None);
                    let [x, x2] = sums("v.2", None);
                    let [_, xy] = sums("v.2", Some("v.1"));
                    PooledSums {
                        sum,
                        sum_sq,
                        covariate: Some([x, x2, xy]),
                    }
                }
            })
        })
        .collect()
}

/// A PERCENTILE-capped metric's per-variant sums (see [`pooled_sums`]).
pub(super) struct PooledSums {
    pub sum: String,
    pub sum_sq: String,
    /// Σx, Σx², Σxy with CUPED.
    pub covariate: Option<[String; 3]>,
}
