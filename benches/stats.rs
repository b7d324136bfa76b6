//! Micro-benchmarks of the pure stats core (criterion): `compare` for a numeric and a conversion
//! metric, `judge`, and `sample_ratio_mismatch` for 2 and 5 variants.
//!
//! ```sh
//! cargo bench --bench stats                 # full measurement
//! cargo bench --bench stats -- --quick      # a quick estimate
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use lift::stats::{
    compare, judge, sample_ratio_mismatch, Expectation, GoodDirection, MetricKind, Thresholds,
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
    c.bench_function("judge", |b| {
        b.iter(|| {
            judge(
                black_box(&CONVERSION_CONTROL),
                black_box(&CONVERSION_TREATMENT),
                MetricKind::Conversion,
                black_box(Some(&comparison)),
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

criterion_group!(
    benches,
    bench_compare,
    bench_judge,
    bench_sample_ratio_mismatch
);
criterion_main!(benches);
