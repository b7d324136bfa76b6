//! Micro-benchmarks of the pure stats core (criterion): `compare` for a numeric and a conversion
//! metric, `judge`, `sample_ratio_mismatch` for 2 and 5 variants, and a full analysis of one
//! experiment (5 metrics × 3 variants with CUPED: each method, and all of them at once).
//!
//! ```sh
//! cargo bench --bench stats                 # full measurement
//! cargo bench --bench stats -- --quick      # a quick estimate
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use lift::stats::{
    analyze, compare, judge, pre_exposure_p_value, sample_ratio_mismatch, ArmSums, CovariateSums,
    Evidence, Expectation, GoodDirection, Method, MetricKind, Prior, Spec, Thresholds,
    VariantStats,
};

const NUMERIC_CONTROL: VariantStats = VariantStats {
    n: 3407,
    sum: 1396.87,
    sum_sq: 52377.9767,
};
const NUMERIC_TREATMENT: VariantStats = VariantStats {
    n: 3461,
    sum: 2422.7,
    sum_sq: 134698.29,
};
const CONVERSION_CONTROL: VariantStats = VariantStats {
    n: 40_000,
    sum: 1_200.0,
    sum_sq: 1_200.0,
};
const CONVERSION_TREATMENT: VariantStats = VariantStats {
    n: 40_100,
    sum: 1_320.0,
    sum_sq: 1_320.0,
};

fn bench_compare(c: &mut Criterion) {
    c.bench_function("compare/numeric", |b| {
        b.iter(|| {
            compare(
                black_box(&NUMERIC_CONTROL),
                black_box(&NUMERIC_TREATMENT),
                MetricKind::Numeric,
                black_box(0.05),
            )
        })
    });
    c.bench_function("compare/conversion", |b| {
        b.iter(|| {
            compare(
                black_box(&CONVERSION_CONTROL),
                black_box(&CONVERSION_TREATMENT),
                MetricKind::Conversion,
                black_box(0.05),
            )
        })
    });
}

fn bench_judge(c: &mut Criterion) {
    let comparison = compare(
        &CONVERSION_CONTROL,
        &CONVERSION_TREATMENT,
        MetricKind::Conversion,
        0.05,
    )
    .expect("the benchmark inputs are valid");
    let thresholds = Thresholds::default();
    let evidence = Evidence::from_p_value(
        comparison.absolute.estimate,
        comparison.absolute.p_value,
        thresholds.alpha,
    );
    c.bench_function("judge", |b| {
        b.iter(|| {
            judge(
                black_box(&CONVERSION_CONTROL),
                black_box(&CONVERSION_TREATMENT),
                MetricKind::Conversion,
                black_box(Some(evidence)),
                Expectation::Increase,
                GoodDirection::Up,
                &thresholds,
            )
        })
    });
}

fn bench_sample_ratio_mismatch(c: &mut Criterion) {
    c.bench_function("sample_ratio_mismatch/2_variants", |b| {
        b.iter(|| sample_ratio_mismatch(black_box(&[50_210, 49_790]), black_box(&[0.5, 0.5])))
    });
    c.bench_function("sample_ratio_mismatch/5_variants", |b| {
        b.iter(|| {
            sample_ratio_mismatch(
                black_box(&[20_100, 19_950, 20_020, 19_880, 20_050]),
                black_box(&[1.0; 5]),
            )
        })
    });
}

/// One arm of `n` identities with mean `mean`, standard deviation `sd`, and a covariate with
/// mean `mean − 1` correlated with the metric at `ρ = 0.7`.
fn arm(n: u64, mean: f64, sd: f64, kind: MetricKind) -> ArmSums {
    let n_f = n as f64;
    let (sum, sum_sq) = match kind {
        MetricKind::Conversion => (mean * n_f, mean * n_f),
        MetricKind::Numeric => (mean * n_f, (sd * sd + mean * mean) * n_f),
    };
    let x_mean = (mean - 0.01).max(0.001);
    let (x_sum, x_sq) = match kind {
        MetricKind::Conversion => (x_mean * n_f, x_mean * n_f),
        MetricKind::Numeric => (x_mean * n_f, (sd * sd + x_mean * x_mean) * n_f),
    };
    let covariance = 0.7 * sd * sd;
    ArmSums {
        n,
        sum,
        sum_sq,
        covariate: Some(CovariateSums {
            sum: x_sum,
            sum_sq: x_sq,
            sum_product: (covariance + mean * x_mean) * n_f,
        }),
    }
}

/// Five metrics (three numeric, two conversions), each with a control and two treatments.
fn experiment() -> Vec<(MetricKind, [ArmSums; 3])> {
    let numeric = |mean: f64, sd: f64| {
        let kind = MetricKind::Numeric;
        let arms = [
            arm(100_000, mean, sd, kind),
            arm(100_400, mean * 1.01, sd, kind),
            arm(99_700, mean * 0.995, sd, kind),
        ];
        (kind, arms)
    };
    let conversion = |rate: f64| {
        let kind = MetricKind::Conversion;
        let arms = [
            arm(100_000, rate, 0.0, kind),
            arm(100_400, rate * 1.02, 0.0, kind),
            arm(99_700, rate * 0.99, 0.0, kind),
        ];
        (kind, arms)
    };
    vec![
        numeric(12.0, 30.0),
        numeric(3.5, 2.0),
        numeric(140.0, 400.0),
        conversion(0.05),
        conversion(0.31),
    ]
}

/// Every comparison of the experiment under each method: CUPED-adjusted and unadjusted tests,
/// and the pre-exposure balance check per treatment.
fn analyze_experiment(metrics: &[(MetricKind, [ArmSums; 3])], methods: &[Method]) -> usize {
    let mut analysed = 0;
    for (kind, [control, treatments @ ..]) in metrics {
        for treatment in treatments {
            for method in methods {
                let spec = Spec {
                    kind: *kind,
                    method: *method,
                    cuped: true,
                    direction: GoodDirection::Up,
                };
                analysed += usize::from(analyze(control, treatment, &spec).is_ok());
            }
            analysed += usize::from(pre_exposure_p_value(control, treatment, *kind).is_ok());
        }
    }
    analysed
}

fn bench_full_analysis(c: &mut Criterion) {
    let metrics = experiment();
    let fixed = Method::Fixed { alpha: 0.05 };
    let sequential = Method::Sequential {
        alpha: 0.05,
        tuning: 5000.0,
    };
    let bayesian = Method::Bayesian {
        alpha: 0.05,
        prior: Prior {
            proper: true,
            mean: 0.0,
            variance: 0.09,
        },
    };
    // Every comparison must succeed, or the benchmark would time the error path.
    assert_eq!(
        analyze_experiment(&metrics, &[fixed, sequential, bayesian]),
        5 * 2 * 4
    );
    for (name, methods) in [
        ("fixed", vec![fixed]),
        ("sequential", vec![sequential]),
        ("bayesian", vec![bayesian]),
        ("every_method", vec![fixed, sequential, bayesian]),
    ] {
        c.bench_function(&format!("full_analysis/5_metrics_3_variants/{name}"), |b| {
            b.iter(|| analyze_experiment(black_box(&metrics), black_box(&methods)))
        });
    }
}

criterion_group!(
    benches,
    bench_compare,
    bench_judge,
    bench_sample_ratio_mismatch,
    bench_full_analysis
);
criterion_main!(benches);
