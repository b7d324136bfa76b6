//! QUANTILE metrics in the metrics query: per variant the quantile of the metric's values and
//! what gbstats 0.8.0 needs for its variance (`QuantileStatistic`, and for event quantiles
//! `QuantileClusteredStatistic`), from the same one scan as every other metric.
//!
//! The quantile at level `ν` is the linear interpolation between order statistics (numpy's
//! default, `PERCENTILE_CONT`, ClickHouse's `quantileExactInclusive`): over the sorted values
//! `s₁ ≤ … ≤ sₙ`, with `h = (n − 1)·ν`, it is `s⌊h⌋₊₁ + (h − ⌊h⌋)·(s⌊h⌋₊₂ − s⌊h⌋₊₁)`. That is the
//! definition GrowthBook's SQL asks warehouses with exact percentiles for.
//!
//! What the values are (both leave a value of 0 out with `ignoreZeros`, and only count finite
//! numbers, as SUM does):
//! - over IDENTITIES, each identity's sum of its events' values in the window (0 without any:
//!   every identity of the variant has a value); the identity's `m{m}` is that sum (NULL when
//!   left out), so the metric's `n, sum, sum_sq` are over the values the quantile is taken over;
//! - over EVENTS, every event's value in the window. The identity stage keeps, per identity, the
//!   array of its values (`q{m}`), and `m{m}` is their number `Nᵢ`. Per variant, the identities'
//!   arrays are kept (`qs{m}`, those with a value), the variant's quantile `q̂` (`t{m}`) is taken
//!   over all of them, and then each identity's `Sᵢ`, its number of values `≤ q̂` (`below{m}`):
//!   the variant's `ΣSᵢ, ΣSᵢ², ΣSᵢNᵢ, ΣNᵢ²` are gbstats' cluster sums (`main_sum`, … with the
//!   identities as clusters, GrowthBook's `SUM(IF(value <= quantile, 1, 0))` per unit). A window
//!   over the identities would hold every identity's row, unspilled; this holds its values.
//!
//! Per variant, the values are collected sorted (`quantile_values`), and from them: `n` their
//! number, `n*` GrowthBook's order-statistic sample size (the largest of 100·2ᵏ, k = 0…19, below
//! `n`, else 100), the quantile, and the quantiles at `ν ∓ z·√(ν(1 − ν)/n*)` (clamped to
//! [1e−8, 1 − 1e−8]; `z = Φ⁻¹(0.975)`), the bounds gbstats' variance reads.
//!
//! Memory: the per-variant values are held sorted (8 bytes per value: per identity over
//! IDENTITIES, per event over EVENTS), and event quantiles also hold each identity's values in
//! the identity stage and per variant. Other metrics add nothing but constant NULL columns.
//!
//! A quantile is not a sum: shards' quantiles cannot be merged into the quantile of the union,
//! so `compile_metrics` refuses QUANTILE metrics on a cluster.

use super::param::Params;
use crate::domain::metric::{QuantileOver, QuantileSpec};

/// `Φ⁻¹(0.975)` as scipy computes it (gbstats' multiplier, and the bounds' in GrowthBook).
pub const Z_975: f64 = 1.959963984540054;

/// GrowthBook's grid of order-statistic sample sizes `n*`.
pub const N_STAR_GRID: [u64; 20] = [
    100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 51_200, 102_400, 204_800, 409_600,
    819_200, 1_638_400, 3_276_800, 6_553_600, 13_107_200, 26_214_400, 52_428_800,
];

/// The columns a metrics row has for quantiles, in order.
pub const ROW_COLUMNS: [&str; 10] = [
    "quantile_level",
    "quantile_n",
    "quantile_nstar",
    "quantile",
    "quantile_lower",
    "quantile_upper",
    "quantile_main_sum",
    "quantile_main_sum_sq",
    "quantile_main_den_sum",
    "quantile_den_sum_sq",
];

/// A QUANTILE metric as the query computes it: its bound level and what it is over.
#[derive(Debug, Clone)]
pub(super) struct BoundQuantile {
    /// `{pN:Float64}`: the level `ν`.
    pub level: String,
    pub over: QuantileOver,
    pub ignore_zeros: bool,
}

impl BoundQuantile {
    pub(super) fn bind(spec: &QuantileSpec, params: &mut Params) -> Self {
        BoundQuantile {
            level: params.float(spec.level),
            over: spec.over,
            ignore_zeros: spec.ignore_zeros,
        }
    }

    /// The identity's value (`m{m}`) from the scan's carried `number` under `counts` (the
    /// metric's event, window and filters): over IDENTITIES the sum of its finite values (NULL
    /// when 0 and zeros are ignored), over EVENTS the number of its values.
    pub(super) fn identity_value(&self, number: &str, counts: &str) -> String {
        let kept = self.kept(number, counts);
        match (self.over, self.ignore_zeros) {
            (QuantileOver::Identities, false) => format!("sumIf({number}, {kept})"),
            (QuantileOver::Identities, true) => format!("nullIf(sumIf({number}, {kept}), 0)"),
            (QuantileOver::Events, _) => format!("toFloat64(countIf({kept}))"),
        }
    }

    /// Over EVENTS, the identity's values (`Array(Float64)`), named `q{m}` in `identities`.
    pub(super) fn identity_values(&self, number: &str, counts: &str) -> Option<String> {
        (self.over == QuantileOver::Events)
            .then(|| format!("groupArrayIf({number}, {})", self.kept(number, counts)))
    }

    fn kept(&self, number: &str, counts: &str) -> String {
        let zeros = if self.ignore_zeros {
            format!("\n        AND {number} != 0")
        } else {
            String::new()
        };
        format!("{counts}\n        AND isFinite({number}){zeros}")
    }
}

/// The columns the per-variant select defines for its event quantiles (empty without one):
/// `qs{m}`, the identities' arrays of values (those with a value); `qv{m}`, all of them sorted;
/// the variant's quantile `t{m}`; and `below{m}`, each identity's number of values `≤ t{m}`. The
/// lambdas capture nothing (see `capping::over_values`): the quantile is passed beside the arrays.
pub(super) fn per_variant_columns_before(quantiles: &[Option<BoundQuantile>]) -> Vec<String> {
    let mut columns = Vec::new();
    for (m, q) in quantiles.iter().enumerate() {
        let Some(q) = q.as_ref().filter(|q| q.over == QuantileOver::Events) else {
            continue;
        };
        columns.push(format!("groupArrayIf(q{m}, notEmpty(q{m})) AS qs{m}"));
        columns.push(format!("arraySort(arrayFlatten(qs{m})) AS qv{m}"));
        columns.push(format!(
            "{} AS t{m}",
            exact_inclusive(&format!("qv{m}"), &q.level, &format!("t{m}"))
        ));
        columns.push(format!(
            "arrayMap((a, t) -> arrayCount((x, s) -> x <= s, a, arrayWithConstant(length(a), t)), \
             qs{m}, arrayWithConstant(length(qs{m}), t{m})) AS below{m}"
        ));
    }
    columns
}

/// `quantileExactInclusive(level)` of the sorted array `sorted` (NaN when empty), by its own
/// formula (h = level · (n − 1) + 1; the h-th smallest value, interpolated towards the next), so it
/// equals the aggregate to the bit (checked on 36,000 random arrays against the engine); `tag`
/// makes the aliases of `h` and its whole part unique.
pub(super) fn exact_inclusive(sorted: &str, level: &str, tag: &str) -> String {
    let (h, k) = (format!("h{tag}"), format!("k{tag}"));
    format!(
        "if(empty({sorted}), nan, if(toUInt64(({level} * (length({sorted}) - 1) + 1) AS {h}) AS \
         {k} >= length({sorted}), {sorted}[length({sorted})], {sorted}[{k}] + ({h} - {k}) * \
         ({sorted}[{k} + 1] - {sorted}[{k}])))"
    )
}

/// The per-variant columns of the inner (grouped) select, each an array with one item per
/// metric (`NULL` or empty for metrics that are not quantiles), named `…_by_metric`.
pub(super) fn per_variant_arrays(quantiles: &[Option<BoundQuantile>]) -> String {
    let array = |ty: &str, item: &dyn Fn(usize, &BoundQuantile) -> Option<String>| {
        let items: Vec<String> = quantiles
            .iter()
            .enumerate()
            .map(|(m, q)| {
                q.as_ref()
                    .and_then(|q| item(m, q))
                    .unwrap_or_else(|| "NULL".to_owned())
            })
            .collect();
        format!("CAST([{}] AS Array({ty}))", items.join(", "))
    };
    let values = {
        let items: Vec<String> = quantiles
            .iter()
            .enumerate()
            .map(|(m, q)| match q.as_ref().map(|q| q.over) {
                Some(QuantileOver::Identities) => format!("arraySort(groupArray(m{m}))"),
                Some(QuantileOver::Events) => format!("qv{m}"),
                None => "[]".to_owned(),
            })
            .collect();
        format!("CAST([{}] AS Array(Array(Float64)))", items.join(", "))
    };
    let events = |sum: fn(usize) -> String| {
        move |m: usize, q: &BoundQuantile| (q.over == QuantileOver::Events).then(|| sum(m))
    };
    let columns = [
        (values, "quantile_values"),
        (
            array("Nullable(Float64)", &|_, q| Some(q.level.clone())),
            "quantile_level",
        ),
        (
            array(
                "Nullable(Float64)",
                &events(|m| format!("arraySum(below{m})")),
            ),
            "quantile_main_sum",
        ),
        (
            array(
                "Nullable(Float64)",
                &events(|m| format!("arraySum(s -> pow(s, 2), below{m})")),
            ),
            "quantile_main_sum_sq",
        ),
        (
            array(
                "Nullable(Float64)",
                &events(|m| format!("arraySum((s, a) -> s * length(a), below{m}, qs{m})")),
            ),
            "quantile_main_den_sum",
        ),
        (
            array(
                "Nullable(Float64)",
                &events(|m| format!("sum(m{m} * m{m})")),
            ),
            "quantile_den_sum_sq",
        ),
    ];
    columns
        .iter()
        .map(|(expression, name)| format!(",\n        {expression} AS {name}_by_metric"))
        .collect()
}

/// The `ARRAY JOIN` items spreading [`per_variant_arrays`] over the (metric, variant) rows.
pub(super) fn per_variant_spread() -> String {
    [
        "quantile_values",
        "quantile_level",
        "quantile_main_sum",
        "quantile_main_sum_sq",
        "quantile_main_den_sum",
        "quantile_den_sum_sq",
    ]
    .iter()
    .map(|name| format!("\n    {name}_by_metric AS {name},"))
    .collect()
}

/// The output columns of a (metric, variant) row: `quantile_level, quantile_n, quantile_nstar,
/// quantile, quantile_lower, quantile_upper` (NULL for other metrics, and the quantile and its
/// bounds when there is no value) and the event quantiles' four cluster sums.
pub(super) fn per_variant_columns() -> String {
    let grid: Vec<String> = N_STAR_GRID.iter().map(u64::to_string).collect();
    let spread = "sqrt(quantile_level * (1 - quantile_level) / quantile_nstar)";
    // `h = (n − 1)·level` is named once per bound (`quantile_h…`) and reused.
    let at = |level: &str, h: &str| {
        let below = format!("arrayElement(quantile_values, toUInt64(floor({h})) + 1)");
        format!(
            "if(empty(quantile_values), NULL, arrayElement(quantile_values, \
             toUInt64(floor(((greatest(length(quantile_values), 1) - 1) * {level}) AS {h})) + 1) \
             + ({h} - floor({h})) * (arrayElement(quantile_values, least(toUInt64(floor({h})) + 2, \
             length(quantile_values))) - {below}))"
        )
    };
    format!(
        ",
    quantile_level,
    if(isNull(quantile_level), NULL, toUInt64(length(quantile_values))) AS quantile_n,
    if(isNull(quantile_level), NULL, toUInt64(greatest(100, arrayMax(arrayFilter(g -> g < length(quantile_values), [{grid}]))))) AS quantile_nstar,
    {quantile} AS quantile,
    {lower} AS quantile_lower,
    {upper} AS quantile_upper,
    quantile_main_sum,
    quantile_main_sum_sq,
    quantile_main_den_sum,
    quantile_den_sum_sq",
        grid = grid.join(", "),
        quantile = at("quantile_level", "quantile_h"),
        lower = at(
            &format!("greatest(quantile_level - {Z_975} * {spread}, 0.00000001)"),
            "quantile_h_lower"
        ),
        upper = at(
            &format!("least(quantile_level + {Z_975} * {spread}, 0.99999999)"),
            "quantile_h_upper"
        ),
    )
}
