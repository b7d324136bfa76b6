//! RATIO metrics in the metrics query: per identity a numerator and a denominator, each the COUNT
//! of a part's events or the SUM of their values, computed in the same per-identity stage (the
//! same scan, the same `GROUP BY` identity) and over the metric's window; per variant the sums
//! the delta method needs (`stats::ratio`).
//!
//! Each part is compiled as the single-event metric it describes (its event, filters, value
//! source, and the ratio's window; see `metric_values.rs`), so it shares the scan's carried
//! columns with any metric of the same event. An identity counts for the ratio only when its
//! denominator is > 0: its numerator `m{m}` and denominator `d{m}` are NULL otherwise, and the
//! per-variant `count(m{m})` counts the identities that remain. Per variant the query returns,
//! over those identities, `n`, `sum` = Σm and `sum_sq` = Σm² as for every metric, and
//! `den_sum` = Σd, `den_sum_sq` = Σd², `num_den_sum` = Σm·d (NULL for metrics of other kinds).
//! All are sums over identities, so on a cluster the shards' rows add up.
//!
//! CUPED: a ratio has no covariate (gbstats 0.8.0 has no regression-adjusted ratio), so CUPED
//! falls back for it.

use super::error::CompileError;
use super::metric_events::Carried;
use super::metric_values::{metric_parts, metric_value, Period};
use super::param::Params;
use super::scope::{BoundScope, MetricSpec};
use crate::domain::metric::{Aggregation, MetricDefinition, RatioPart};

/// A ratio's per-identity columns: `value` (the numerator when the denominator is > 0, else
/// NULL; `Nullable(Float64)`) and `denominator` (likewise).
pub(super) struct RatioValues {
    pub value: String,
    pub denominator: String,
}

/// Whether `spec` is a RATIO metric (compiled here, never by `metric_parts`).
pub(super) fn is_ratio(spec: &MetricSpec) -> bool {
    spec.aggregation == Aggregation::Ratio || spec.definition.numerator.is_some()
}

/// The events a ratio reads: its numerator's and its denominator's.
pub(super) fn ratio_events(spec: &MetricSpec) -> Vec<&str> {
    [&spec.definition.numerator, &spec.definition.denominator]
        .into_iter()
        .flatten()
        .map(|part| part.event.as_str())
        .collect()
}

/// Checks and binds ratio metric `index`: numerator first, then denominator, each as
/// [`metric_parts`] binds a metric; `name_of` gives the placeholder of an event name.
pub(super) fn ratio_values(
    index: usize,
    spec: &MetricSpec,
    scope: &BoundScope,
    name_of: &dyn Fn(&str) -> String,
    carried: &mut Carried,
    params: &mut Params,
) -> Result<RatioValues, CompileError> {
    let definition = &spec.definition;
    let (Some(numerator), Some(denominator)) = (&definition.numerator, &definition.denominator)
    else {
        return Err(CompileError::InvalidMetric {
            metric: index,
            reason: "a RATIO metric needs a numerator and a denominator".into(),
        });
    };
    let mut part = |part: &RatioPart, what: &str| {
        let as_metric = MetricSpec {
            aggregation: part.aggregation,
            definition: MetricDefinition {
                event: part.event.clone(),
                filters: part.filters.clone(),
                value: part.value.clone(),
                window: definition.window,
                ..Default::default()
            },
        };
        let name = name_of(&part.event);
        metric_parts(index, &as_metric, scope, &name, carried, params)
            .map(|parts| metric_value(&parts, Period::Window))
            .map_err(|e| match e {
                CompileError::InvalidMetric { metric, reason } => CompileError::InvalidMetric {
                    metric,
                    reason: format!("{what}: {reason}"),
                },
                other => other,
            })
    };
    let m = part(numerator, "numerator")?;
    let d = part(denominator, "denominator")?;
    Ok(RatioValues {
        value: format!("if({d} > 0, {m}, NULL)"),
        denominator: format!("if({d} > 0, {d}, NULL)"),
    })
}

/// The per-variant arrays (one item per metric, `Nullable(Float64)`) of Σd, Σd² and Σm·d, in that
/// order, over `identities`' columns `d{m}` and `m{m}`; NULL for metrics that are not ratios.
pub(super) fn per_variant_sums(denominators: &[Option<String>]) -> [String; 3] {
    let array = |item: &dyn Fn(usize) -> String| {
        let items: Vec<String> = denominators
            .iter()
            .enumerate()
            .map(|(m, d)| match d {
                Some(_) => item(m),
                None => "NULL".to_owned(),
            })
            .collect();
        format!("CAST([{}] AS Array(Nullable(Float64)))", items.join(", "))
    };
    [
        array(&|m| format!("sum(d{m})")),
        array(&|m| format!("sum(d{m} * d{m})")),
        array(&|m| format!("sum(m{m} * d{m})")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metric::ValueSource;
    use crate::sql::fixtures::{ratio_metric, scope};

    #[test]
    fn an_identity_counts_only_with_a_positive_denominator() {
        let mut params = Params::new();
        let bound = BoundScope::bind(&scope(), &mut params).unwrap();
        let mut carried = Carried::default();
        let spec = ratio_metric(
            ("purchase", Aggregation::Sum, Some(ValueSource::EventValue)),
            ("purchase", Aggregation::Count, None),
        );
        let name_of = |_: &str| "{p9:String}".to_owned();
        let values = ratio_values(0, &spec, &bound, &name_of, &mut carried, &mut params).unwrap();
        let counted =
            "e.event = {p9:String}\n        AND e.timestamp >= a.first_exposure\n        \
                       AND e.timestamp <= {p6:DateTime64(3, 'UTC')}";
        let d = format!("toFloat64(countIf({counted}))");
        let m = format!("sumIf(e.c0, {counted}\n        AND isFinite(e.c0))");
        assert_eq!(values.value, format!("if({d} > 0, {m}, NULL)"));
        assert_eq!(values.denominator, format!("if({d} > 0, {d}, NULL)"));
        // Numerator and denominator of one event share the scan's columns.
        assert_eq!(carried.columns.len(), 1);
    }

    #[test]
    fn a_part_is_checked_as_the_metric_it_describes() {
        let mut params = Params::new();
        let bound = BoundScope::bind(&scope(), &mut params).unwrap();
        let spec = ratio_metric(
            ("purchase", Aggregation::Sum, None),
            ("visit", Aggregation::Count, None),
        );
        let name_of = |_: &str| "{p9:String}".to_owned();
        let error = ratio_values(
            3,
            &spec,
            &bound,
            &name_of,
            &mut Carried::default(),
            &mut params,
        )
        .err()
        .unwrap();
        assert_eq!(
            error,
            CompileError::InvalidMetric {
                metric: 3,
                reason: "numerator: a SUM metric needs a value source".into()
            }
        );
    }

    #[test]
    fn metrics_that_are_not_ratios_have_null_sums() {
        let [d, d2, md] = per_variant_sums(&[None, Some("d".into())]);
        assert_eq!(d, "CAST([NULL, sum(d1)] AS Array(Nullable(Float64)))");
        assert_eq!(d2, "CAST([NULL, sum(d1 * d1)] AS Array(Nullable(Float64)))");
        assert_eq!(md, "CAST([NULL, sum(m1 * d1)] AS Array(Nullable(Float64)))");
    }
}
