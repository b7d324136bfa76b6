//! Property-style invariants of [`analyze`] over inputs from the deterministic generator (as
//! `properties.rs` does for `compare`): every method, CUPED on and off, both directions; no
//! panic and no NaN on any sums; intervals contain their estimate; p-values and chances to win
//! lie in [0, 1]; risks are not negative; a Bayesian verdict never contradicts its interval; a
//! confidence sequence is wider than the fixed interval, and its p-value is below α exactly when
//! it excludes 0.

use super::analysis::{analyze, Effect, Method, Spec};
use super::arm::{ArmSums, CovariateSums};
use super::bayesian::Prior;
use super::error::StatsError;
use super::sufficient::MetricKind;
use super::test_rng::Rng;
use super::verdict::GoodDirection;

/// A valid arm of `n` identities: a covariate and a metric correlated with it by a random amount.
fn random_arm(rng: &mut Rng, kind: MetricKind, n: u64) -> ArmSums {
    let (slope, noise, shift) = (
        rng.unit() * 3.0 - 1.0,
        rng.unit() * 5.0,
        rng.unit() * 4.0 - 2.0,
    );
    let (rate, lift) = (0.05 + 0.6 * rng.unit(), rng.unit() * 0.3);
    let (mut sum, mut sum_sq, mut x_sum, mut x_sq, mut xy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for _ in 0..n {
        let (x, y) = match kind {
            MetricKind::Conversion => {
                let x = f64::from(u8::from(rng.unit() < rate));
                let y = f64::from(u8::from(rng.unit() < rate * 0.5 + lift * x));
                (x, y)
            }
            MetricKind::Numeric => {
                let x = 10.0 * rng.unit().powi(2);
                (x, slope * x + noise * (rng.unit() - 0.5) + shift)
            }
        };
        sum += y;
        sum_sq += y * y;
        x_sum += x;
        x_sq += x * x;
        xy += x * y;
    }
    ArmSums {
        n,
        sum,
        sum_sq,
        covariate: Some(CovariateSums {
            sum: x_sum,
            sum_sq: x_sq,
            sum_product: xy,
        }),
    }
}

fn random_method(rng: &mut Rng) -> Method {
    let alpha = 0.001 + rng.unit() * 0.3;
    match rng.below(3) {
        0 => Method::Fixed { alpha },
        1 => Method::Sequential {
            alpha,
            tuning: 10f64.powf(2.0 + rng.unit() * 4.0),
        },
        _ => Method::Bayesian {
            alpha,
            prior: Prior {
                proper: rng.below(2) == 0,
                mean: rng.unit() * 0.2 - 0.1,
                variance: 0.001 + rng.unit() * 0.5,
            },
        },
    }
}

fn random_spec(rng: &mut Rng, kind: MetricKind) -> Spec {
    Spec {
        kind,
        method: random_method(rng),
        cuped: rng.below(2) == 0,
        direction: [
            GoodDirection::Up,
            GoodDirection::Down,
            GoodDirection::Informational,
        ][rng.below(3) as usize],
    }
}

fn check(effect: &Effect, spec: &Spec) {
    let values = [effect.estimate, effect.ci_lower, effect.ci_upper];
    assert!(values.iter().all(|v| v.is_finite()), "{effect:?}");
    assert!(
        effect.ci_lower <= effect.estimate && effect.estimate <= effect.ci_upper,
        "{effect:?}"
    );
    let bayesian = matches!(spec.method, Method::Bayesian { .. });
    assert_eq!(effect.p_value.is_none(), bayesian, "{effect:?}");
    assert_eq!(effect.chance_to_win.is_some(), bayesian, "{effect:?}");
    for p in effect.p_value.into_iter().chain(effect.chance_to_win) {
        assert!((0.0..=1.0).contains(&p), "{effect:?}");
    }
    if let Some(risk) = effect.risk {
        assert!(risk.control >= 0.0 && risk.treatment >= 0.0, "{effect:?}");
        assert!(
            risk.control.is_finite() && risk.treatment.is_finite(),
            "{effect:?}"
        );
    }
    // The verdict rule "WIN needs chance to win ≥ 1 − α/2" is "the interval excludes 0 on the good
    // side": both are the posterior's α/2 quantile against 0 (away from rounding at the boundary).
    if let (Method::Bayesian { alpha, .. }, Some(ctw)) = (spec.method, effect.chance_to_win) {
        let good_bound = match spec.direction {
            GoodDirection::Down => -effect.ci_upper,
            _ => effect.ci_lower,
        };
        let width = effect.ci_upper - effect.ci_lower;
        if good_bound.abs() > 1e-9 * width {
            assert_eq!(ctw > 1.0 - alpha / 2.0, good_bound > 0.0, "{effect:?}");
        }
    }
}

#[test]
fn every_method_gives_finite_ordered_intervals_and_measures_in_range() {
    let mut rng = Rng::new(0xa11);
    for case in 0..600 {
        let kind = if case % 2 == 0 {
            MetricKind::Numeric
        } else {
            MetricKind::Conversion
        };
        let n = |rng: &mut Rng| 2 + rng.below(if case % 3 == 0 { 30 } else { 3000 });
        let (n_a, n_b) = (n(&mut rng), n(&mut rng));
        let (a, b) = (
            random_arm(&mut rng, kind, n_a),
            random_arm(&mut rng, kind, n_b),
        );
        let spec = random_spec(&mut rng, kind);

        match analyze(&a, &b, &spec) {
            Ok(analysis) => {
                for effects in [analysis.adjusted, analysis.unadjusted] {
                    check(&effects.absolute, &spec);
                    effects.relative.iter().for_each(|e| check(e, &spec));
                }
                assert_eq!(spec.cuped, analysis.cuped != super::cuped::Cuped::Off);
                if let Some(reduction) = analysis.variance_reduction() {
                    assert!(reduction.is_finite() && reduction < 1.0, "{reduction}");
                }
            }
            Err(error) => assert_eq!(error, StatsError::ZeroVariance, "{a:?} {b:?}"),
        }
    }
}

#[test]
fn arbitrary_sums_never_panic_and_never_give_nan() {
    const VALUES: [f64; 11] = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e-300,
        1e300,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        12.5,
        3e7,
    ];
    const SIZES: [u64; 7] = [0, 1, 2, 3, 10, 1_000_000, u64::MAX];
    let mut rng = Rng::new(11);
    let value = |rng: &mut Rng| VALUES[rng.below(VALUES.len() as u64) as usize];
    for case in 0..6000 {
        let kind = if case % 2 == 0 {
            MetricKind::Numeric
        } else {
            MetricKind::Conversion
        };
        let pick = |rng: &mut Rng| ArmSums {
            n: SIZES[rng.below(SIZES.len() as u64) as usize],
            sum: value(rng),
            sum_sq: value(rng),
            covariate: (rng.below(4) > 0).then(|| CovariateSums {
                sum: value(rng),
                sum_sq: value(rng),
                sum_product: value(rng),
            }),
        };
        let (a, b) = (pick(&mut rng), pick(&mut rng));
        let spec = random_spec(&mut rng, kind);

        if let Ok(analysis) = analyze(&a, &b, &spec) {
            for effects in [analysis.adjusted, analysis.unadjusted] {
                check(&effects.absolute, &spec);
                effects.relative.iter().for_each(|e| check(e, &spec));
            }
            if let Some(reduction) = analysis.variance_reduction() {
                assert!(!reduction.is_nan(), "{a:?} {b:?}");
            }
        }
    }
}

#[test]
fn a_confidence_sequence_is_wider_than_the_fixed_interval() {
    let mut rng = Rng::new(5);
    for case in 0..200 {
        let kind = if case % 2 == 0 {
            MetricKind::Numeric
        } else {
            MetricKind::Conversion
        };
        let (n_a, n_b) = (1000 + rng.below(20_000), 1000 + rng.below(20_000));
        let (a, b) = (
            random_arm(&mut rng, kind, n_a),
            random_arm(&mut rng, kind, n_b),
        );
        let alpha = 0.01 + rng.unit() * 0.2;
        let tuning = 10f64.powf(2.0 + rng.unit() * 4.0);
        let base = Spec {
            kind,
            method: Method::Fixed { alpha },
            cuped: true,
            direction: GoodDirection::Up,
        };
        let sequential = Spec {
            method: Method::Sequential { alpha, tuning },
            ..base
        };

        let (Ok(fixed), Ok(sequential)) = (analyze(&a, &b, &base), analyze(&a, &b, &sequential))
        else {
            continue;
        };

        let width = |e: &Effect| e.ci_upper - e.ci_lower;
        assert!(width(&sequential.adjusted.absolute) > width(&fixed.adjusted.absolute));
        // The p-value is the sequence's dual (Waudby-Smith et al. eq. 155 against eq. 9): it is
        // below α exactly when the sequence excludes 0 (away from rounding at the boundary).
        let s = sequential.adjusted.absolute;
        let bound = s.ci_lower.abs().min(s.ci_upper.abs());
        if bound > 1e-9 * width(&s) {
            let excludes_zero = s.ci_lower > 0.0 || s.ci_upper < 0.0;
            assert_eq!(
                s.p_value.is_some_and(|p| p <= alpha),
                excludes_zero,
                "{s:?}"
            );
        }
    }
}
