//! The verdict on one metric of an experiment: did the treatment do what was expected of it?
//!
//! Rules, applied in order:
//! 1. **`NotEnoughData`** when there is no comparison (it could not be computed), when either arm
//!    has fewer than `min_identities` identities, or, for a `Conversion` metric, when either arm
//!    has fewer than `min_conversions` conversions (its `sum`).
//! 2. **`Inconclusive`** unless the change is significant ([`Evidence`]): frequentist, the absolute
//!    p-value (corrected for multiple testing when asked) is below `alpha`; Bayesian, the credible
//!    interval of the absolute difference excludes zero.
//! 3. A significant change goes **up** when the absolute estimate is positive, else **down**:
//!
//! | expectation   | significant up                         | significant down                         |
//! |---------------|----------------------------------------|------------------------------------------|
//! | `Increase`    | `Win`                                  | `Loss`                                   |
//! | `Decrease`    | `Loss`                                 | `Win`                                    |
//! | `NotIncrease` | `Loss`                                 | `Win` if direction is `Down`, else `Inconclusive` |
//! | `NotDecrease` | `Win` if direction is `Up`, else `Inconclusive` | `Loss`                          |
//!
//! `NotIncrease`/`NotDecrease` are guardrails: breaking them is a loss, and moving the other way
//! only counts as a win when that way is the metric's good direction.

use serde::{Deserialize, Serialize};

use super::sufficient::{MetricKind, VariantStats};

/// What the experiment's hypothesis expects of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Expectation {
    Increase,
    Decrease,
    /// A guardrail: the metric must not go up.
    NotIncrease,
    /// A guardrail: the metric must not go down.
    NotDecrease,
}

/// Which way the metric is good, independent of any experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GoodDirection {
    Up,
    Down,
    /// Neither way is better; the metric is watched, not optimised.
    Informational,
}

/// The outcome for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Win,
    Loss,
    Inconclusive,
    NotEnoughData,
}

/// The significance level and minimum sample sizes a verdict needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub alpha: f64,
    pub min_identities: u64,
    pub min_conversions: u64,
}

impl Default for Thresholds {
    /// `alpha` 0.05, at least 50 identities and, for conversion metrics, 5 conversions per arm.
    fn default() -> Self {
        Thresholds {
            alpha: 0.05,
            min_identities: 50,
            min_conversions: 5,
        }
    }
}

/// What a test concluded about a change, whatever the engine: whether it is significant, and
/// which way the estimate points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    pub significant: bool,
    pub up: bool,
}

impl Evidence {
    /// Frequentist: significant when `p_value < alpha` (a NaN p-value is not significant).
    pub fn from_p_value(estimate: f64, p_value: f64, alpha: f64) -> Self {
        Evidence {
            significant: p_value < alpha,
            up: estimate > 0.0,
        }
    }

    /// Significant when the interval excludes zero. For a Bayesian posterior this is the same as a
    /// chance to win at least `1 − α/2` on one side, so a verdict never contradicts the interval.
    pub fn from_interval(estimate: f64, lower: f64, upper: f64) -> Self {
        Evidence {
            significant: lower > 0.0 || upper < 0.0,
            up: estimate > 0.0,
        }
    }
}

/// Applies the rules in the module documentation; `None` evidence: the test could not be computed.
pub fn judge(
    control: &VariantStats,
    treatment: &VariantStats,
    kind: MetricKind,
    evidence: Option<Evidence>,
    expectation: Expectation,
    direction: GoodDirection,
    thresholds: &Thresholds,
) -> Verdict {
    let enough = |arm: &VariantStats| {
        arm.n >= thresholds.min_identities
            && (kind == MetricKind::Numeric || arm.sum >= thresholds.min_conversions as f64)
    };
    let Some(evidence) = evidence else {
        return Verdict::NotEnoughData;
    };
    if !enough(control) || !enough(treatment) {
        return Verdict::NotEnoughData;
    }
    if !evidence.significant {
        return Verdict::Inconclusive;
    }
    match (expectation, evidence.up) {
        (Expectation::Increase, true) | (Expectation::Decrease, false) => Verdict::Win,
        (Expectation::Increase, false) | (Expectation::Decrease, true) => Verdict::Loss,
        (Expectation::NotIncrease, true) | (Expectation::NotDecrease, false) => Verdict::Loss,
        (Expectation::NotIncrease, false) => win_if(direction == GoodDirection::Down),
        (Expectation::NotDecrease, true) => win_if(direction == GoodDirection::Up),
    }
}

fn win_if(good: bool) -> Verdict {
    if good {
        Verdict::Win
    } else {
        Verdict::Inconclusive
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ttest::{Comparison, Estimate};

    /// The frequentist path: significance from the comparison's absolute p-value.
    fn judge_comparison(
        control: &VariantStats,
        treatment: &VariantStats,
        kind: MetricKind,
        comparison: Option<&Comparison>,
        expectation: Expectation,
        direction: GoodDirection,
        thresholds: &Thresholds,
    ) -> Verdict {
        let evidence = comparison.map(|c| {
            Evidence::from_p_value(c.absolute.estimate, c.absolute.p_value, thresholds.alpha)
        });
        judge(
            control,
            treatment,
            kind,
            evidence,
            expectation,
            direction,
            thresholds,
        )
    }

    const EXPECTATIONS: [Expectation; 4] = [
        Expectation::Increase,
        Expectation::Decrease,
        Expectation::NotIncrease,
        Expectation::NotDecrease,
    ];
    const DIRECTIONS: [GoodDirection; 3] = [
        GoodDirection::Up,
        GoodDirection::Down,
        GoodDirection::Informational,
    ];

    fn arm(n: u64, sum: f64) -> VariantStats {
        VariantStats {
            n,
            sum,
            sum_sq: sum,
        }
    }

    fn comparison(estimate: f64, p_value: f64) -> Comparison {
        let absolute = Estimate {
            estimate,
            ci_lower: estimate - 1.0,
            ci_upper: estimate + 1.0,
            p_value,
        };
        Comparison {
            absolute,
            relative: None,
        }
    }

    fn verdict(
        estimate: f64,
        p_value: f64,
        expectation: Expectation,
        direction: GoodDirection,
    ) -> Verdict {
        let (a, b) = (arm(1000, 100.0), arm(1000, 120.0));
        let c = comparison(estimate, p_value);
        judge_comparison(
            &a,
            &b,
            MetricKind::Numeric,
            Some(&c),
            expectation,
            direction,
            &Thresholds::default(),
        )
    }

    /// `judge_comparison` for a metric whose good direction is up, at the default thresholds.
    fn judge_up(
        a: &VariantStats,
        b: &VariantStats,
        kind: MetricKind,
        comparison: Option<&Comparison>,
        expectation: Expectation,
    ) -> Verdict {
        judge_comparison(
            a,
            b,
            kind,
            comparison,
            expectation,
            GoodDirection::Up,
            &Thresholds::default(),
        )
    }

    #[test]
    fn default_thresholds_are_five_percent_fifty_identities_five_conversions() {
        let thresholds = Thresholds::default();

        assert_eq!(
            (
                thresholds.alpha,
                thresholds.min_identities,
                thresholds.min_conversions
            ),
            (0.05, 50, 5)
        );
    }

    #[test]
    fn a_missing_comparison_is_not_enough_data() {
        let (a, b) = (arm(1000, 100.0), arm(1000, 120.0));
        for expectation in EXPECTATIONS {
            let result = judge_up(&a, &b, MetricKind::Numeric, None, expectation);

            assert_eq!(result, Verdict::NotEnoughData);
        }
    }

    #[test]
    fn too_few_identities_in_either_arm_is_not_enough_data() {
        let c = comparison(1.0, 0.001);
        for (a, b) in [
            (arm(49, 20.0), arm(1000, 20.0)),
            (arm(1000, 20.0), arm(49, 20.0)),
        ] {
            let result = judge_up(&a, &b, MetricKind::Numeric, Some(&c), Expectation::Increase);

            assert_eq!(result, Verdict::NotEnoughData);
        }
    }

    #[test]
    fn too_few_conversions_in_either_arm_is_not_enough_data_for_conversion_metrics() {
        let c = comparison(1.0, 0.001);
        for (a, b) in [
            (arm(1000, 4.0), arm(1000, 50.0)),
            (arm(1000, 50.0), arm(1000, 4.0)),
        ] {
            let result = judge_up(
                &a,
                &b,
                MetricKind::Conversion,
                Some(&c),
                Expectation::Increase,
            );

            assert_eq!(result, Verdict::NotEnoughData);
        }
    }

    #[test]
    fn a_small_sum_does_not_matter_for_numeric_metrics() {
        let (a, b) = (arm(1000, 4.0), arm(1000, 1.0));
        let c = comparison(1.0, 0.001);

        let result = judge_up(&a, &b, MetricKind::Numeric, Some(&c), Expectation::Increase);

        assert_eq!(result, Verdict::Win);
    }

    #[test]
    fn exactly_the_minimums_are_enough() {
        let (a, b) = (arm(50, 5.0), arm(50, 5.0));
        let c = comparison(1.0, 0.001);

        let result = judge_up(
            &a,
            &b,
            MetricKind::Conversion,
            Some(&c),
            Expectation::Increase,
        );

        assert_eq!(result, Verdict::Win);
    }

    #[test]
    fn a_p_value_at_or_above_alpha_is_inconclusive_whatever_the_expectation() {
        for expectation in EXPECTATIONS {
            for direction in DIRECTIONS {
                for (estimate, p_value) in [(1.0, 0.05), (-1.0, 0.5), (1.0, f64::NAN)] {
                    assert_eq!(
                        verdict(estimate, p_value, expectation, direction),
                        Verdict::Inconclusive
                    );
                }
            }
        }
    }

    #[test]
    fn increase_wins_up_and_loses_down_in_any_direction() {
        for direction in DIRECTIONS {
            assert_eq!(
                verdict(1.0, 0.01, Expectation::Increase, direction),
                Verdict::Win
            );
            assert_eq!(
                verdict(-1.0, 0.01, Expectation::Increase, direction),
                Verdict::Loss
            );
        }
    }

    #[test]
    fn decrease_wins_down_and_loses_up_in_any_direction() {
        for direction in DIRECTIONS {
            assert_eq!(
                verdict(-1.0, 0.01, Expectation::Decrease, direction),
                Verdict::Win
            );
            assert_eq!(
                verdict(1.0, 0.01, Expectation::Decrease, direction),
                Verdict::Loss
            );
        }
    }

    #[test]
    fn not_increase_loses_up_and_wins_down_only_when_down_is_good() {
        for direction in DIRECTIONS {
            assert_eq!(
                verdict(1.0, 0.01, Expectation::NotIncrease, direction),
                Verdict::Loss
            );
        }
        assert_eq!(
            verdict(-1.0, 0.01, Expectation::NotIncrease, GoodDirection::Down),
            Verdict::Win
        );
        assert_eq!(
            verdict(-1.0, 0.01, Expectation::NotIncrease, GoodDirection::Up),
            Verdict::Inconclusive
        );
        assert_eq!(
            verdict(
                -1.0,
                0.01,
                Expectation::NotIncrease,
                GoodDirection::Informational
            ),
            Verdict::Inconclusive
        );
    }

    #[test]
    fn not_decrease_loses_down_and_wins_up_only_when_up_is_good() {
        for direction in DIRECTIONS {
            assert_eq!(
                verdict(-1.0, 0.01, Expectation::NotDecrease, direction),
                Verdict::Loss
            );
        }
        assert_eq!(
            verdict(1.0, 0.01, Expectation::NotDecrease, GoodDirection::Up),
            Verdict::Win
        );
        assert_eq!(
            verdict(1.0, 0.01, Expectation::NotDecrease, GoodDirection::Down),
            Verdict::Inconclusive
        );
        assert_eq!(
            verdict(
                1.0,
                0.01,
                Expectation::NotDecrease,
                GoodDirection::Informational
            ),
            Verdict::Inconclusive
        );
    }

    #[test]
    fn a_custom_alpha_decides_significance() {
        let (a, b) = (arm(1000, 100.0), arm(1000, 120.0));
        let c = comparison(1.0, 0.03);
        let strict = Thresholds {
            alpha: 0.01,
            ..Thresholds::default()
        };

        let result = judge_comparison(
            &a,
            &b,
            MetricKind::Numeric,
            Some(&c),
            Expectation::Increase,
            GoodDirection::Up,
            &strict,
        );

        assert_eq!(result, Verdict::Inconclusive);
    }
}
