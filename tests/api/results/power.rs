//! `comparisons.power` through GraphQL, on PRIMARY metrics only: the relative MDE at 80 % power
//! matches GrowthBook's power.ts formula (`findMdeFrequentist`, fixed-horizon and sequential)
//! computed here from sums the test derives from its own event list; identities per day are the
//! compared arms' identities over the experiment's running time; days to target bring the MDE
//! down to `targetMde` at that rate (0 once it has). Secondary and guardrail metrics have no
//! power. With three arms, each variant's power counts its own identities and the control's.
//!
//! The equation power.ts solves (see `src/stats/power.rs`): with `n_a` identities per arm (half
//! the two compared arms), baseline mean `m` and per-identity variance `v`, the MDE `δ` is the
//! root of `δ² = k(1 + (1 + δ)²)`, `k = z²·v/(n_a·m²)`, `z = Φ⁻¹(1 − α/2) − Φ⁻¹(0.2)`. Solved
//! here as the quadratic in `δ`: `δ = (k + √(2k − k²))/(1 − k)` (power.ts solves it in `m(1 + δ)`).

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::arms::*;
use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

/// Φ⁻¹(0.975) and Φ⁻¹(0.8) (scipy.stats.norm.ppf): α = 0.05, 80 % power.
const Z_975: f64 = 1.959963984540054;
const Z_80: f64 = 0.8416212335729142;
const ALPHA: f64 = 0.05;
const TUNING: f64 = 100.0;

/// `(n, Σy, Σy²)` of one arm.
type Sums = (u64, f64, f64);

/// The relative MDE for baseline mean `m`, variance `v` and `identities` in the two compared arms;
/// `None` when no positive root exists yet (`k ≥ 1`).
fn expected_mde(m: f64, v: f64, identities: f64, sequential: bool) -> Option<f64> {
    let v = if sequential {
        sequential_variance(v, identities)
    } else {
        v
    };
    let z = Z_975 + Z_80;
    let k = z * z * v / (identities / 2.0 * m * m);
    (k < 1.0).then(|| (k + (2.0 * k - k * k).sqrt()) / (1.0 - k))
}

/// power.ts's `sequentialPowerSequentialVariance`: the variance that makes a fixed-horizon
/// interval at `n` (both arms) as wide as gbstats' confidence sequence tuned for `TUNING`.
fn sequential_variance(v: f64, n: f64) -> f64 {
    let rho2 = (-2.0 * ALPHA.ln() + (-2.0 * ALPHA.ln() + 1.0).ln()) / TUNING;
    let width = 2.0 * (n * rho2 + 1.0) * ((n * rho2 + 1.0).sqrt() / ALPHA).ln() / (n * n * rho2);
    v * n * width / (Z_975 * Z_975)
}

fn conversion_baseline(control: Sums) -> (f64, f64) {
    let m = control.1 / control.0 as f64;
    (m, m * (1.0 - m))
}

fn numeric_baseline(control: Sums) -> (f64, f64) {
    let n = control.0 as f64;
    let m = control.1 / n;
    (m, (control.2 - control.1 * control.1 / n) / (n - 1.0))
}

/// Purchases of `value(i)` by the first `buyers` identities `{prefix}0..` at start + 2 h; returns
/// the events and the arm's `(n, Σy, Σy²)` over its `size` identities (non-buyers count as 0).
fn purchases(
    start: DateTime<Utc>,
    prefix: &str,
    size: u64,
    buyers: u64,
    value: fn(u64) -> f64,
) -> (Vec<Event>, Sums) {
    let mut sums = (size, 0.0, 0.0);
    let events = (0..buyers)
        .map(|i| {
            let y = value(i);
            sums.1 += y;
            sums.2 += y * y;
            Event::track(
                ENV,
                "purchase",
                &format!("{prefix}{i}"),
                start + Duration::hours(2),
            )
            .value(&y.to_string())
        })
        .collect();
    (events, sums)
}

fn power<'a>(results: &'a Value, metric: &str) -> &'a Value {
    &comparison(metric_results(results, metric), "treatment")["power"]
}

fn seconds(at: &Value) -> DateTime<Utc> {
    at.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("a date-time: {at}"))
        .with_timezone(&Utc)
}

db_test_with!(
    power_of_primary_metrics_matches_the_power_ts_formula,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let checkout = conversion(&app, ENV, "Checkout", "checkout").await;
        let news = conversion(&app, ENV, "Newsletter", "news").await;
        let errors = conversion(&app, ENV, "Errors", "error").await;
        let revenue = metric(
            &app,
            metric_of(
                ENV,
                "Revenue",
                "SUM",
                json!({"event": "purchase", "value": {"source": "EVENT_VALUE"}}),
            ),
        )
        .await;
        let mut events = Vec::new();
        let mut experiments = Vec::new();
        for (name, analysis) in [
            ("fixed", json!({"alpha": ALPHA})),
            (
                "sequential",
                json!({"alpha": ALPHA, "sequential": true, "sequentialTuning": TUNING as i64}),
            ),
        ] {
            let feature = app
                .feature(&world.project_a, name, "control:50,treatment:50")
                .await;
            let (id, start) = experiment_with(&app, ENV, &feature, name, analysis).await;
            attach_as(&app, &id, &checkout, "INCREASE", "PRIMARY").await;
            attach_as(&app, &id, &revenue, "INCREASE", "PRIMARY").await;
            attach_as(&app, &id, &news, "INCREASE", "SECONDARY").await;
            attach_as(&app, &id, &errors, "NOT_INCREASE", "GUARDRAIL").await;
            // 400 control and 300 treatment identities: power counts the two arms compared.
            let (c, t) = (format!("{name}-c"), format!("{name}-t"));
            events.extend(
                arm(
                    "control",
                    &c,
                    400,
                    &[("checkout", 80), ("news", 40), ("error", 20)],
                )
                .events(ENV, name, start),
            );
            events.extend(
                arm(
                    "treatment",
                    &t,
                    300,
                    &[("checkout", 66), ("news", 30), ("error", 15)],
                )
                .events(ENV, name, start),
            );
            let (control_buys, control) =
                purchases(start, &c, 400, 120, |i| (i % 7 + 1) as f64 * 2.5);
            let (treatment_buys, treatment) =
                purchases(start, &t, 300, 100, |i| (i % 5 + 2) as f64 * 3.0);
            events.extend(control_buys);
            events.extend(treatment_buys);
            experiments.push((id, name == "sequential", control, treatment));
        }
        warehouse.insert(&events).await;

        for (id, sequential, control_revenue, treatment_revenue) in &experiments {
            let label = if *sequential { "sequential" } else { "fixed" };
            let live = decisions(&app, id).await;
            assert_stats(
                &live,
                &revenue,
                label,
                &[
                    (
                        "control",
                        control_revenue.0,
                        control_revenue.1,
                        control_revenue.2,
                    ),
                    (
                        "treatment",
                        treatment_revenue.0,
                        treatment_revenue.1,
                        treatment_revenue.2,
                    ),
                ],
            );
            assert_stats(
                &live,
                &checkout,
                label,
                &[("control", 400, 80.0, 80.0), ("treatment", 300, 66.0, 66.0)],
            );
            let completed = app.lifecycle("completeExperiment", id).await;
            assert_eq!(code(&completed), "OK", "{completed}");
            let node = &completed["data"]["completeExperiment"];
            // lift counts the running time in whole seconds (at least a minute).
            let running = (seconds(&node["endedAt"]) - seconds(&node["startedAt"]))
                .num_seconds()
                .max(60);
            let days = running as f64 / 86_400.0;
            assert!((10.0..10.1).contains(&days), "started 10 days ago: {days}");
            let frozen = decisions(&app, id).await;

            for (metric, baseline) in [
                (&checkout, conversion_baseline((400, 80.0, 80.0))),
                (&revenue, numeric_baseline(*control_revenue)),
            ] {
                let what = format!("{label} {metric}");
                let identities = 700.0;
                let (m, v) = baseline;
                let mde =
                    expected_mde(m, v, identities, *sequential).expect("an MDE at 700 identities");
                for (read, results) in [("live", &live), ("frozen", &frozen)] {
                    assert_close(
                        number(&power(results, metric)["mde"]),
                        mde,
                        &format!("{what} {read}: mde"),
                    );
                }
                // Identities per day: frozen, over the whole run; live (read earlier), between
                // that and the rate over exactly 10 days.
                let per_day = identities / days;
                let frozen_power = power(&frozen, metric);
                assert_close(
                    number(&frozen_power["identitiesPerDay"]),
                    per_day,
                    &format!("{what}: identities per day"),
                );
                let live_rate = number(&power(&live, metric)["identitiesPerDay"]);
                assert!(
                    live_rate >= per_day * (1.0 - 1e-12)
                        && live_rate <= identities / 10.0 * (1.0 + 1e-12),
                    "{what}: live rate {live_rate}, frozen {per_day}"
                );

                // Days to the 5 % default target: the sample at which the MDE is 5 %.
                let days_to_target = number(&frozen_power["daysToTarget"]);
                assert!(days_to_target > 0.0, "{what}: MDE {mde} is above 5 %");
                let needed = identities + days_to_target * per_day;
                if *sequential {
                    // No closed form: the MDE at the sample reached is the target.
                    let at = expected_mde(m, v, needed, true).expect("an MDE");
                    assert!(
                        (at - 0.05).abs() <= 1e-9 * 0.05,
                        "{what}: MDE {at} after {days_to_target} days"
                    );
                } else {
                    // δ² = k(1 + (1 + δ)²) solved for n_a at δ = 0.05.
                    let z = Z_975 + Z_80;
                    let n_a = z * z * v * (1.0 + 1.05f64.powi(2)) / (m * m * 0.05f64.powi(2));
                    assert_close(needed, 2.0 * n_a, &format!("{what}: sample at the target"));
                }
            }
            for metric in [&news, &errors] {
                assert_eq!(
                    *power(&frozen, metric),
                    Value::Null,
                    "{label}: power is for primary metrics only"
                );
                assert_eq!(
                    *power(&live, metric),
                    Value::Null,
                    "{label}: power is for primary metrics only"
                );
            }
        }
    }
);

db_test_with!(
    each_variant_has_its_own_power_against_the_control,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let checkout = conversion(&app, ENV, "Checkout", "checkout").await;
        let feature = app
            .feature(&world.project_a, "three", "control:3,a:3,b:2")
            .await;
        // A target between the two variants' MDEs: `a` (600 identities with the control) has
        // reached it, `b` (500) has not.
        let (id, start) = experiment_with(
            &app,
            ENV,
            &feature,
            "Three",
            json!({"alpha": ALPHA, "targetMde": 0.65}),
        )
        .await;
        attach_as(&app, &id, &checkout, "INCREASE", "PRIMARY").await;
        let mut events = Vec::new();
        for (variant, prefix, size, converting) in [
            ("control", "3c", 300, 60),
            ("a", "3a", 300, 66),
            ("b", "3b", 200, 50),
        ] {
            events.extend(
                arm(variant, prefix, size, &[("checkout", converting)]).events(ENV, "three", start),
            );
        }
        warehouse.insert(&events).await;
        let completed = app.lifecycle("completeExperiment", &id).await;
        assert_eq!(code(&completed), "OK", "{completed}");
        let node = &completed["data"]["completeExperiment"];
        let running = (seconds(&node["endedAt"]) - seconds(&node["startedAt"]))
            .num_seconds()
            .max(60);
        let days = running as f64 / 86_400.0;
        let r = decisions(&app, &id).await;

        let (m, v) = conversion_baseline((300, 60.0, 60.0));
        for (variant, identities) in [("a", 600.0), ("b", 500.0)] {
            let power = &comparison(metric_results(&r, &checkout), variant)["power"];
            let mde = expected_mde(m, v, identities, false).expect("an MDE");
            assert_close(number(&power["mde"]), mde, &format!("{variant}: mde"));
            let per_day = identities / days;
            assert_close(
                number(&power["identitiesPerDay"]),
                per_day,
                &format!("{variant}: identities per day"),
            );
            let days_to_target = number(&power["daysToTarget"]);
            if mde <= 0.65 {
                assert_eq!(variant, "a", "the data set is built for this: MDE {mde}");
                assert_eq!(days_to_target, 0.0, "{variant}: the target is reached");
            } else {
                assert_eq!(variant, "b", "the data set is built for this: MDE {mde}");
                let z = Z_975 + Z_80;
                let n_a = z * z * v * (1.0 + 1.65f64.powi(2)) / (m * m * 0.65f64.powi(2));
                assert_close(
                    identities + days_to_target * per_day,
                    2.0 * n_a,
                    &format!("{variant}: sample at the target"),
                );
            }
        }
    }
);
