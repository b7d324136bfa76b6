//! Cross-check of the pure stats core against GrowthBook gbstats 0.8.0.
//!
//! `tests/stats/crosscheck.json` holds gbstats' `TwoSidedTTest` results (absolute and relative)
//! for numeric and conversion metrics; `tests/stats/crosscheck.py` regenerates it. This is the one
//! test that is not over HTTP: it calls `lift::stats::compare` directly and needs no Python.
//!
//! Agreement is to 1e-6 relative. Values within 1e-12 absolute also agree: gbstats computes the
//! p-value as `2·(1 − cdf)`, which cancels to 0 or to a multiple of 2⁻⁵³ for tiny p-values, where
//! `compare` uses the survival function and keeps the digits.

use lift::stats::{compare, Estimate, MetricKind, VariantStats};
use serde::Deserialize;

const FIXTURE: &str = include_str!("stats/crosscheck.json");
const RELATIVE_TOLERANCE: f64 = 1e-6;
const ABSOLUTE_FLOOR: f64 = 1e-12;

#[derive(Deserialize)]
struct Fixture {
    reference: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    kind: Kind,
    alpha: f64,
    control: VariantStats,
    treatment: VariantStats,
    absolute: Estimate,
    relative: Estimate,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Numeric,
    Conversion,
}

impl From<Kind> for MetricKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Numeric => MetricKind::Numeric,
            Kind::Conversion => MetricKind::Conversion,
        }
    }
}

fn fixture() -> Fixture {
    serde_json::from_str(FIXTURE).expect("tests/stats/crosscheck.json is valid")
}

fn agrees(actual: f64, expected: f64) -> bool {
    let difference = (actual - expected).abs();
    difference <= RELATIVE_TOLERANCE * expected.abs() || difference <= ABSOLUTE_FLOOR
}

/// The fields of `actual` that disagree with `expected`, described for the failure message.
fn disagreements(scale: &str, actual: &Estimate, expected: &Estimate) -> Vec<String> {
    [
        ("estimate", actual.estimate, expected.estimate),
        ("ci_lower", actual.ci_lower, expected.ci_lower),
        ("ci_upper", actual.ci_upper, expected.ci_upper),
        ("p_value", actual.p_value, expected.p_value),
    ]
    .into_iter()
    .filter(|(_, a, e)| !agrees(*a, *e))
    .map(|(field, a, e)| format!("{scale}.{field}: lift {a:e}, gbstats {e:e}"))
    .collect()
}

#[test]
fn the_fixture_covers_at_least_thirty_numeric_and_conversion_cases() {
    let fixture = fixture();

    let count = |kind: fn(&Kind) -> bool| fixture.cases.iter().filter(|c| kind(&c.kind)).count();

    assert!(
        fixture.reference.starts_with("gbstats 0.8.0"),
        "{}",
        fixture.reference
    );
    assert!(fixture.cases.len() >= 30, "{} cases", fixture.cases.len());
    assert!(count(|k| matches!(k, Kind::Numeric)) >= 10);
    assert!(count(|k| matches!(k, Kind::Conversion)) >= 10);
}

#[test]
fn compare_agrees_with_gbstats_on_every_fixture_case() {
    let fixture = fixture();
    let mut failures = Vec::new();

    for case in &fixture.cases {
        let result = compare(&case.control, &case.treatment, case.kind.into(), case.alpha);

        match result {
            Ok(comparison) => {
                let mut wrong = disagreements("absolute", &comparison.absolute, &case.absolute);
                match &comparison.relative {
                    Some(relative) => {
                        wrong.extend(disagreements("relative", relative, &case.relative))
                    }
                    None => wrong.push("relative: lift has none".to_owned()),
                }
                if !wrong.is_empty() {
                    failures.push(format!("{}: {}", case.name, wrong.join("; ")));
                }
            }
            Err(error) => failures.push(format!("{}: {error}", case.name)),
        }
    }

    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
