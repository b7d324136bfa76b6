//! CUPED's covariate in the metrics query: per identity, the same metric before its exposure, and
//! per (metric, variant) the sums the regression adjustment needs, from the same one scan.
//!
//! With `ResultsScope::cuped_lookback` set, an identity's covariate `x` for metric *m* is *m*'s
//! value (same event, filters, aggregation and value source) over `[first exposure − lookback,
//! first exposure)`, ignoring *m*'s window; without events there it is 0 (OCCURRENCE, COUNT and
//! SUM are 0 over no events). The metrics query then also returns, over the identities counted
//! for *m* in a variant, `sum_x` = Σx, `sum_x2` = Σx² and `sum_xy` = Σx·y (`y` the metric value).
//!
//! MEAN metrics get no covariate (the three sums are NULL): a MEAN identity without pre-period
//! events has no pre-period mean, and 0 would be a made-up value on the metric's own scale
//! (unlike a count), so CUPED does not apply to them and their statistics stay unadjusted.
//! RATIO metrics get none either (`ratio.rs`: gbstats 0.8.0 has no adjusted ratio).
//!
//! Reads: the table is still read once. `metric_events` starts `lookback` before the experiment
//! start instead of at it, since every first exposure is at or after the start; the covariate is
//! another `countIf`/`sumIf` over the same joined rows, reusing the scan's carried filter and
//! number columns (the same expressions), so the scan carries no extra column. Memory: the scan
//! reads the lookback's extra events (on a plain table its natural-key `GROUP BY` holds them too),
//! and the per-identity `GROUP BY` holds one more aggregate per non-MEAN metric.
//!
//! Clusters: the three sums are sums over identities, so per-shard partial sums add up like `n`,
//! `sum` and `sum_sq` (a NULL stays NULL: `sum` of NULLs only is NULL).

use chrono::{DateTime, Duration, Utc};

use super::error::CompileError;
use super::metric_values::{metric_value, MetricParts, Period};
use super::param::Params;
use super::scope::MetricSpec;
use crate::domain::metric::Aggregation;

/// CUPED's bound values: the lookback in seconds, and where the scan starts.
pub(super) struct BoundLookback {
    /// `{pN:Int64}`: the lookback in whole seconds.
    pub seconds: String,
    /// `{pN:DateTime64(3, 'UTC')}`: the experiment start minus the lookback.
    pub scan_start: String,
}

/// Checks and binds the lookback: a positive whole number of seconds, whose start stays in the
/// representable time range.
pub(super) fn bind_lookback(
    lookback: Duration,
    start: DateTime<Utc>,
    params: &mut Params,
) -> Result<BoundLookback, CompileError> {
    let seconds = lookback.num_seconds();
    if seconds <= 0 || Duration::try_seconds(seconds) != Some(lookback) {
        return Err(CompileError::InvalidLookback);
    }
    let scan_start = start
        .checked_sub_signed(lookback)
        .ok_or(CompileError::WindowOutOfRange)?;
    Ok(BoundLookback {
        seconds: params.int(seconds),
        scan_start: params.datetime(scan_start),
    })
}

/// The metric's covariate per identity (`Float64`) from its bound `parts`, `None` for MEAN (see
/// the module doc).
pub(super) fn covariate_value(
    spec: &MetricSpec,
    parts: &MetricParts,
    lookback: &BoundLookback,
) -> Option<String> {
    let period = Period::BeforeExposure {
        lookback: &lookback.seconds,
    };
    // Nor for QUANTILE: gbstats 0.8.0 has no regression-adjusted quantile.
    (!matches!(spec.aggregation, Aggregation::Mean | Aggregation::Quantile))
        .then(|| metric_value(parts, period))
}

/// The per-variant arrays (one item per metric, `Nullable(Float64)`) of Σx, Σx² and Σxy, in that
/// order, over `identities`' columns `x{m}` and `m{m}` (for a metric with a PERCENTILE cap, its
/// `pooled` sums instead, `capping.rs`); NULL for metrics without a covariate. The cast types the
/// arrays even when every item is NULL.
pub(super) fn per_variant_sums(
    covariates: &[Option<String>],
    pooled: &[Option<[String; 3]>],
) -> [String; 3] {
    let array = |k: usize, item: &dyn Fn(usize) -> String| {
        let items: Vec<String> = covariates
            .iter()
            .enumerate()
            .map(|(m, x)| match (x, pooled.get(m).and_then(Option::as_ref)) {
                (Some(_), Some(sums)) => sums[k].clone(),
                (Some(_), None) => item(m),
                (None, _) => "NULL".to_owned(),
            })
            .collect();
        format!("CAST([{}] AS Array(Nullable(Float64)))", items.join(", "))
    };
    [
        array(0, &|m| format!("sum(x{m})")),
        array(1, &|m| format!("sum(x{m} * x{m})")),
        array(2, &|m| format!("sum(x{m} * m{m})")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fixtures::{metric, scope};
    use crate::sql::param::ParamValue;

    #[test]
    fn the_lookback_is_a_positive_whole_number_of_seconds() {
        let start = scope().start;
        for bad in [
            Duration::zero(),
            Duration::seconds(-1),
            Duration::milliseconds(1_500),
        ] {
            assert_eq!(
                bind_lookback(bad, start, &mut Params::new()).err(),
                Some(CompileError::InvalidLookback),
                "{bad:?}"
            );
        }
        let mut params = Params::new();
        let bound = bind_lookback(Duration::days(14), start, &mut params).unwrap();
        assert_eq!(bound.seconds, "{p0:Int64}");
        assert_eq!(bound.scan_start, "{p1:DateTime64(3, 'UTC')}");
        assert_eq!(
            params.into_vec(),
            vec![
                ("p0".to_owned(), ParamValue::Int64(14 * 86_400)),
                (
                    "p1".to_owned(),
                    ParamValue::DateTime64(start - Duration::days(14))
                ),
            ]
        );
    }

    #[test]
    fn the_covariate_is_the_metric_before_exposure_and_mean_has_none() {
        use crate::sql::metric_events::Carried;
        use crate::sql::metric_values::metric_parts;
        use crate::sql::scope::BoundScope;
        let mut params = Params::new();
        let bound = BoundScope::bind(&scope(), &mut params).unwrap();
        let mut carried = Carried::default();
        let mut covariate = |aggregation, value| {
            // A window the covariate ignores.
            let spec = metric(
                aggregation,
                "purchase",
                value,
                Some((60, Some(600))),
                vec![],
            );
            let parts =
                metric_parts(0, &spec, &bound, "{p20:String}", &mut carried, &mut params).unwrap();
            let lookback = BoundLookback {
                seconds: "{p30:Int64}".into(),
                scan_start: "{p31:DateTime64(3, 'UTC')}".into(),
            };
            covariate_value(&spec, &parts, &lookback)
        };
        let period = "e.event = {p20:String}\n        \
                      AND e.timestamp >= a.first_exposure - toIntervalSecond({p30:Int64})\n        \
                      AND e.timestamp < a.first_exposure";
        assert_eq!(
            covariate(Aggregation::Count, None),
            Some(format!("toFloat64(countIf({period}))"))
        );
        let source = Some(crate::domain::metric::ValueSource::EventValue);
        assert_eq!(
            covariate(Aggregation::Sum, source.clone()),
            Some(format!("sumIf(e.c0, {period}\n        AND isFinite(e.c0))"))
        );
        assert_eq!(covariate(Aggregation::Mean, source), None);
    }

    #[test]
    fn metrics_without_a_covariate_have_null_sums() {
        let [x, x2, xy] = per_variant_sums(&[Some("x".into()), None], &[]);
        assert_eq!(x, "CAST([sum(x0), NULL] AS Array(Nullable(Float64)))");
        assert_eq!(x2, "CAST([sum(x0 * x0), NULL] AS Array(Nullable(Float64)))");
        assert_eq!(xy, "CAST([sum(x0 * m0), NULL] AS Array(Nullable(Float64)))");
    }
}
