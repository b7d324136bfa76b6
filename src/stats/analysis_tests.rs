//! Behaviour of [`analyze`] beyond the gbstats fixture: why CUPED falls back, which measures each
//! engine reports, invalid settings, and the pre-exposure balance check.

use super::analysis::{analyze, pre_exposure_p_value, Method, Spec};
use super::arm::{ArmSums, CovariateSums};
use super::bayesian::Prior;
use super::cuped::{Cuped, CupedFallback};
use super::error::StatsError;
use super::sufficient::MetricKind;
use super::ttest::compare;
use super::verdict::GoodDirection;

/// The sums of per-identity `(x, y)` pairs, exactly as the metrics query would return them.
fn arm(pairs: &[(f64, f64)]) -> ArmSums {
    let (mut sum, mut sum_sq, mut x, mut x_sq, mut xy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(pre, post) in pairs {
        sum += post;
        sum_sq += post * post;
        x += pre;
        x_sq += pre * pre;
        xy += pre * post;
    }
    ArmSums {
        n: pairs.len() as u64,
        sum,
        sum_sq,
        covariate: Some(CovariateSums {
            sum: x,
            sum_sq: x_sq,
            sum_product: xy,
        }),
    }
}

/// `n` identities whose metric follows the covariate closely: `y = 2x + 1 + noise + shift`.
fn correlated(n: usize, shift: f64) -> ArmSums {
    let pairs: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let x = (i % 17) as f64;
            let noise = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
            (x, 2.0 * x + 1.0 + noise + shift)
        })
        .collect();
    arm(&pairs)
}

fn spec(method: Method, cuped: bool) -> Spec {
    Spec {
        kind: MetricKind::Numeric,
        method,
        cuped,
        direction: GoodDirection::Up,
    }
}

const FIXED: Method = Method::Fixed { alpha: 0.05 };

#[test]
fn cuped_narrows_the_interval_of_a_correlated_metric_and_reports_theta() {
    let (a, b) = (correlated(500, 0.0), correlated(520, 0.3));

    let analysis = analyze(&a, &b, &spec(FIXED, true)).unwrap();

    let Cuped::Applied {
        theta,
        variance_reduction,
    } = analysis.cuped
    else {
        panic!("{:?}", analysis.cuped);
    };
    assert!((theta - 2.0).abs() < 0.05, "θ {theta}");
    assert!(variance_reduction > 0.9, "{variance_reduction}");
    let width = |e: &super::analysis::Effect| e.ci_upper - e.ci_lower;
    assert!(width(&analysis.adjusted.absolute) < 0.5 * width(&analysis.unadjusted.absolute));
}

#[test]
fn without_cuped_the_adjusted_comparison_is_the_unadjusted_one() {
    let (a, b) = (correlated(100, 0.0), correlated(100, 0.5));

    let analysis = analyze(&a, &b, &spec(FIXED, false)).unwrap();

    assert_eq!(analysis.cuped, Cuped::Off);
    assert_eq!(analysis.adjusted, analysis.unadjusted);
    assert_eq!(analysis.variance_reduction(), None);
}

fn fallback(a: &ArmSums, b: &ArmSums) -> Cuped {
    let analysis = analyze(a, b, &spec(FIXED, true)).unwrap();
    assert_eq!(analysis.adjusted, analysis.unadjusted);
    analysis.cuped
}

#[test]
fn cuped_falls_back_without_covariate_sums() {
    let a = ArmSums {
        covariate: None,
        ..correlated(50, 0.0)
    };

    let cuped = fallback(&a, &correlated(50, 1.0));

    assert_eq!(cuped, Cuped::FellBack(CupedFallback::NoCovariate));
}

#[test]
fn cuped_falls_back_when_no_identity_had_pre_period_activity() {
    let zero = |y: f64| (0.0, y);
    let a = arm(&[1.0, 2.0, 4.0, 3.0].map(zero));
    let b = arm(&[2.0, 5.0, 4.0, 3.0].map(zero));

    assert_eq!(
        fallback(&a, &b),
        Cuped::FellBack(CupedFallback::CovariateWithoutVariance)
    );
}

#[test]
fn cuped_falls_back_when_covariate_and_metric_are_uncorrelated() {
    // Pooled: Σx = 4, Σy = 16, Σxy = 8 over 8 identities, so Σxy − ΣxΣy/n = 0 exactly.
    let a = arm(&[(1.0, 1.0), (0.0, 3.0), (1.0, 3.0), (0.0, 1.0)]);
    let b = arm(&[(1.0, 2.0), (0.0, 2.0), (1.0, 2.0), (0.0, 2.0)]);

    assert_eq!(
        fallback(&a, &b),
        Cuped::FellBack(CupedFallback::Uncorrelated)
    );
}

#[test]
fn cuped_falls_back_when_the_metric_is_an_exact_function_of_the_covariate() {
    let line = |x: f64| (x, 2.0 * x + 1.0);
    let a = arm(&[0.0, 1.0, 2.0, 3.0].map(line));
    let b = arm(&[1.0, 2.0, 4.0, 8.0].map(line));

    assert_eq!(
        fallback(&a, &b),
        Cuped::FellBack(CupedFallback::AdjustedVarianceNotPositive)
    );
}

#[test]
fn cuped_falls_back_on_invalid_covariate_sums() {
    for bad in [
        CovariateSums {
            sum: f64::NAN,
            sum_sq: 1.0,
            sum_product: 1.0,
        },
        CovariateSums {
            sum: 10.0,
            sum_sq: 1.0,
            sum_product: 1.0,
        },
        CovariateSums {
            sum: 1.0,
            sum_sq: 5.0,
            sum_product: f64::INFINITY,
        },
    ] {
        let a = ArmSums {
            covariate: Some(bad),
            ..correlated(50, 0.0)
        };

        let cuped = fallback(&a, &correlated(50, 1.0));

        assert_eq!(
            cuped,
            Cuped::FellBack(CupedFallback::InvalidCovariate),
            "{bad:?}"
        );
    }
}

#[test]
fn frequentist_engines_report_p_values_and_the_bayesian_one_chance_to_win_and_risk() {
    let (a, b) = (correlated(300, 0.0), correlated(300, 0.2));
    let bayesian = Method::Bayesian {
        alpha: 0.05,
        prior: Prior::default(),
    };
    let sequential = Method::Sequential {
        alpha: 0.05,
        tuning: 5000.0,
    };

    for method in [FIXED, sequential] {
        let effect = analyze(&a, &b, &spec(method, true))
            .unwrap()
            .adjusted
            .absolute;
        assert!(
            effect.p_value.is_some() && effect.chance_to_win.is_none() && effect.risk.is_none()
        );
    }
    let effect = analyze(&a, &b, &spec(bayesian, true))
        .unwrap()
        .adjusted
        .absolute;
    assert!(effect.p_value.is_none() && effect.chance_to_win.is_some() && effect.risk.is_some());
}

#[test]
fn lower_is_better_flips_the_chance_to_win_and_swaps_the_risks() {
    let (a, b) = (correlated(300, 0.0), correlated(300, 0.2));
    let method = Method::Bayesian {
        alpha: 0.05,
        prior: Prior {
            proper: true,
            mean: 0.0,
            variance: 0.09,
        },
    };
    let up = spec(method, true);
    let down = Spec {
        direction: GoodDirection::Down,
        ..up
    };

    let up = analyze(&a, &b, &up).unwrap().adjusted.absolute;
    let down = analyze(&a, &b, &down).unwrap().adjusted.absolute;

    let (up_ctw, down_ctw) = (up.chance_to_win.unwrap(), down.chance_to_win.unwrap());
    assert!((up_ctw + down_ctw - 1.0).abs() < 1e-12);
    let (up_risk, down_risk) = (up.risk.unwrap(), down.risk.unwrap());
    assert_eq!(
        (up_risk.control, up_risk.treatment),
        (down_risk.treatment, down_risk.control)
    );
}

#[test]
fn compare_is_the_fixed_unadjusted_analysis() {
    let (a, b) = (correlated(80, 0.0), correlated(90, 0.4));

    let comparison = compare(&a.metric(), &b.metric(), MetricKind::Numeric, 0.05).unwrap();
    let analysis = analyze(&a, &b, &spec(FIXED, false)).unwrap().unadjusted;

    assert_eq!(analysis.absolute.p_value, Some(comparison.absolute.p_value));
    assert_eq!(analysis.absolute.ci_lower, comparison.absolute.ci_lower);
    assert_eq!(
        analysis.relative.map(|r| r.ci_upper),
        comparison.relative.map(|r| r.ci_upper)
    );
}

#[test]
fn invalid_settings_are_typed_errors() {
    let (a, b) = (correlated(50, 0.0), correlated(50, 1.0));
    let cases = [
        (Method::Fixed { alpha: 0.0 }, StatsError::InvalidAlpha(0.0)),
        (
            Method::Sequential {
                alpha: 0.05,
                tuning: 0.0,
            },
            StatsError::InvalidTuning(0.0),
        ),
        (
            Method::Bayesian {
                alpha: 0.05,
                prior: Prior {
                    proper: true,
                    mean: 0.0,
                    variance: 0.0,
                },
            },
            StatsError::InvalidPrior {
                mean: 0.0,
                variance: 0.0,
            },
        ),
    ];
    for (method, expected) in cases {
        assert_eq!(analyze(&a, &b, &spec(method, true)), Err(expected));
    }
}

#[test]
fn a_flat_prior_ignores_its_shape() {
    let (a, b) = (correlated(60, 0.0), correlated(60, 0.1));
    let flat = |variance| Method::Bayesian {
        alpha: 0.05,
        prior: Prior {
            proper: false,
            mean: 3.0,
            variance,
        },
    };

    let one = analyze(&a, &b, &spec(flat(0.0), false)).unwrap();
    let other = analyze(&a, &b, &spec(flat(0.09), false)).unwrap();

    assert_eq!(one, other);
}

#[test]
fn the_pre_exposure_check_is_welch_on_the_covariate_means() {
    let (a, b) = (correlated(400, 0.0), correlated(400, 5.0));
    let shifted = |s: &ArmSums, by: f64| {
        let c = s.covariate.unwrap();
        ArmSums {
            covariate: Some(CovariateSums {
                sum: c.sum + by * s.n as f64,
                sum_sq: c.sum_sq + 2.0 * by * c.sum + by * by * s.n as f64,
                ..c
            }),
            ..*s
        }
    };

    let balanced = pre_exposure_p_value(&a, &b, MetricKind::Numeric)
        .unwrap()
        .unwrap();
    let biased = pre_exposure_p_value(&a, &shifted(&b, 3.0), MetricKind::Numeric).unwrap();
    let welch = compare(
        &a.covariate_stats().unwrap(),
        &b.covariate_stats().unwrap(),
        MetricKind::Numeric,
        0.05,
    );

    assert_eq!(balanced, welch.unwrap().absolute.p_value);
    assert!(balanced > 0.5, "{balanced}");
    assert!(biased.unwrap() < 1e-6, "{biased:?}");
    let without = ArmSums {
        covariate: None,
        ..a
    };
    assert_eq!(
        pre_exposure_p_value(&without, &b, MetricKind::Numeric),
        Ok(None)
    );
}

#[test]
fn a_proper_prior_around_a_zero_control_mean_leaves_the_absolute_posterior_flat() {
    let zero = ArmSums {
        n: 40,
        sum: 0.0,
        sum_sq: 0.0,
        covariate: None,
    };
    let some = ArmSums {
        n: 40,
        sum: 6.0,
        sum_sq: 6.0,
        covariate: None,
    };
    let bayes = |proper| Spec {
        kind: MetricKind::Conversion,
        method: Method::Bayesian {
            alpha: 0.05,
            prior: Prior {
                proper,
                mean: 0.1,
                variance: 0.01,
            },
        },
        cuped: false,
        direction: GoodDirection::Up,
    };

    let proper = analyze(&zero, &some, &bayes(true)).unwrap().adjusted;
    let flat = analyze(&zero, &some, &bayes(false)).unwrap().adjusted;

    assert_eq!(proper.absolute, flat.absolute);
    assert_eq!(proper.relative, None);
}
