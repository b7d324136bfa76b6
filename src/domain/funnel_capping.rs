//! What results add for funnel metrics (identities reaching each step) and capped metrics (the cap
//! values used, identities capped per variant), from the metrics query's per-variant rows. Pure.

use serde::{Deserialize, Serialize};

use super::metric::{CappingKind, MetricDefinition};

/// From one (metric, variant) row: a funnel's identities reaching each step (empty for other
/// metrics) and the capping numbers (0 and `None` for uncapped metrics).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KindNumbers {
    pub step_reached: Vec<u64>,
    pub capped_identities: u64,
    /// The cap values the query used (a PERCENTILE cap's quantiles, an ABSOLUTE cap's values);
    /// `None` when not set or when no value was there to take a quantile of.
    pub cap_upper: Option<f64>,
    pub cap_lower: Option<f64>,
}

/// How many of a variant's identities reached one step of a funnel, in order after their first
/// exposure and inside the metric's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStepReached {
    /// 1-based.
    pub step: u32,
    pub event: String,
    pub reached: u64,
}

/// The cap values a capped metric's results used (the same for every variant and for the CUPED
/// covariate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CapValues {
    pub kind: CappingKind,
    /// `None` when a PERCENTILE cap had no value to take the quantile of (nothing was capped).
    pub upper: Option<f64>,
    pub lower: Option<f64>,
}

/// A funnel's steps with their counts (`counts` in step order; missing counts are 0: a variant
/// with no identity); empty for a metric that is not a funnel.
pub fn funnel_steps(definition: &MetricDefinition, counts: &[u64]) -> Vec<FunnelStepReached> {
    definition
        .steps
        .iter()
        .enumerate()
        .map(|(k, step)| FunnelStepReached {
            step: u32::try_from(k + 1).unwrap_or(u32::MAX),
            event: step.event.clone(),
            reached: counts.get(k).copied().unwrap_or(0),
        })
        .collect()
}

/// A capped metric's cap values from any variant's row (every row carries the same); `None` for
/// an uncapped metric.
pub fn cap_values<'a>(
    definition: &MetricDefinition,
    rows: impl IntoIterator<Item = &'a KindNumbers>,
) -> Option<CapValues> {
    let capping = definition.capping?;
    let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
    let row = rows.into_iter().next();
    Some(CapValues {
        kind: capping.kind,
        upper: finite(row.and_then(|r| r.cap_upper)),
        lower: finite(row.and_then(|r| r.cap_lower)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metric::{Capping, FunnelStep};

    #[test]
    fn steps_are_numbered_from_one_and_variants_without_identities_reach_none() {
        let definition = MetricDefinition {
            steps: ["view", "cart", "buy"]
                .iter()
                .map(|e| FunnelStep {
                    event: (*e).into(),
                    filters: vec![],
                })
                .collect(),
            ..Default::default()
        };
        let steps = funnel_steps(&definition, &[5, 3, 1]);
        assert_eq!(
            steps
                .iter()
                .map(|s| (s.step, s.reached))
                .collect::<Vec<_>>(),
            [(1, 5), (2, 3), (3, 1)]
        );
        assert_eq!(steps[2].event, "buy");
        assert!(funnel_steps(&definition, &[])
            .iter()
            .all(|s| s.reached == 0));
        assert!(funnel_steps(&MetricDefinition::on_event("buy"), &[1]).is_empty());
    }

    #[test]
    fn cap_values_come_from_the_rows_and_a_quantile_of_nothing_is_none() {
        let mut definition = MetricDefinition::on_event("buy");
        assert_eq!(cap_values(&definition, &[KindNumbers::default()]), None);
        definition.capping = Some(Capping {
            kind: CappingKind::Percentile,
            upper: 0.9,
            lower: None,
            ignore_zeros: true,
        });
        let row = KindNumbers {
            cap_upper: Some(f64::NAN),
            ..Default::default()
        };
        let values = cap_values(&definition, [&row]).expect("capped");
        assert_eq!((values.upper, values.lower), (None, None));
        let row = KindNumbers {
            cap_upper: Some(12.5),
            ..Default::default()
        };
        assert_eq!(
            cap_values(&definition, [&row]).and_then(|v| v.upper),
            Some(12.5)
        );
    }
}
