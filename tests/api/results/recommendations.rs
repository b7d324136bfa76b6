//! `results.recommendations` through GraphQL: one experiment per decision, each on a healthy
//! event set of 250 identities per arm built so that its metrics get the verdicts the rule reads —
//! no primary attached (CHECK_SETUP; an UNHEALTHY experiment is in `health`), a guardrail or a
//! primary LOSS (ROLL_BACK), every primary WIN while a secondary loses (SHIP: secondaries never
//! decide), a primary NOT_ENOUGH_DATA beside a winning one or an inconclusive primary whose MDE is
//! above the 5 % default target (KEEP_RUNNING), the same with a target of 60 %
//! (NO_DETECTABLE_EFFECT), and a 3-arm feature with one recommendation per non-control variant.
//! The reasons name the metric that decided, and quote the MDE the comparison reports.

use serde_json::{json, Value};

use super::arms::*;
use super::support::*;
use crate::clickhouse::Warehouse;
use crate::helpers::*;

/// The MDE the primary metric's comparison reports for `variant`.
fn mde(results: &Value, metric: &str, variant: &str) -> f64 {
    number(&comparison(metric_results(results, metric), variant)["power"]["mde"])
}

fn verdict(results: &Value, metric: &str, variant: &str) -> String {
    comparison(metric_results(results, metric), variant)["verdict"]
        .as_str()
        .expect("verdict")
        .to_owned()
}

fn decided(results: &Value) -> Vec<(String, String, Vec<String>)> {
    assert_eq!(
        results["health"]["status"], "HEALTHY",
        "{:#}",
        results["health"]
    );
    recommendations(results)
}

/// One experiment: its feature, analysis settings, attachments as (metric, expected direction,
/// role) and arms.
type Scenario<'a> = (&'a str, Value, Vec<Attachment<'a>>, Vec<Arm<'a>>);
type Attachment<'a> = (&'a str, &'a str, &'a str);

fn one(variant: &str, decision: &str, reasons: &[&str]) -> (String, String, Vec<String>) {
    (
        variant.to_owned(),
        decision.to_owned(),
        reasons.iter().map(|r| (*r).to_owned()).collect(),
    )
}

db_test_with!(
    each_recommendation_follows_its_rule_and_names_the_metric,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let checkout = conversion(&app, ENV, "Checkout", "checkout").await;
        let errors = conversion(&app, ENV, "Errors", "error").await;
        let newsletter = conversion(&app, ENV, "Newsletter", "news").await;
        let rare = conversion(&app, ENV, "Rare", "rare").await;

        let win: &[(&str, usize)] = &[("checkout", 50)];
        let scenarios: Vec<Scenario<'_>> = vec![
            (
                "no_primary",
                json!({}),
                vec![(checkout.as_str(), "INCREASE", "SECONDARY")],
                vec![
                    arm("control", "np-c", 250, win),
                    arm("treatment", "np-t", 250, &[("checkout", 100)]),
                ],
            ),
            (
                "guardrail_loss",
                json!({}),
                vec![
                    (checkout.as_str(), "INCREASE", "PRIMARY"),
                    (errors.as_str(), "NOT_INCREASE", "GUARDRAIL"),
                ],
                vec![
                    arm("control", "gl-c", 250, &[("checkout", 50), ("error", 25)]),
                    arm(
                        "treatment",
                        "gl-t",
                        250,
                        &[("checkout", 100), ("error", 75)],
                    ),
                ],
            ),
            (
                "primary_loss",
                json!({}),
                vec![(checkout.as_str(), "INCREASE", "PRIMARY")],
                vec![
                    arm("control", "pl-c", 250, &[("checkout", 100)]),
                    arm("treatment", "pl-t", 250, win),
                ],
            ),
            (
                "ship",
                json!({}),
                vec![
                    (checkout.as_str(), "INCREASE", "PRIMARY"),
                    (errors.as_str(), "NOT_INCREASE", "GUARDRAIL"),
                    (newsletter.as_str(), "INCREASE", "SECONDARY"),
                ],
                vec![
                    arm(
                        "control",
                        "sh-c",
                        250,
                        &[("checkout", 50), ("error", 25), ("news", 100)],
                    ),
                    arm(
                        "treatment",
                        "sh-t",
                        250,
                        &[("checkout", 100), ("error", 25), ("news", 50)],
                    ),
                ],
            ),
            (
                "waiting_for_data",
                json!({}),
                vec![
                    (checkout.as_str(), "INCREASE", "PRIMARY"),
                    (rare.as_str(), "INCREASE", "PRIMARY"),
                ],
                vec![
                    arm("control", "wd-c", 250, &[("checkout", 50), ("rare", 2)]),
                    arm("treatment", "wd-t", 250, &[("checkout", 100), ("rare", 4)]),
                ],
            ),
            (
                "underpowered",
                json!({}),
                vec![(checkout.as_str(), "INCREASE", "PRIMARY")],
                vec![
                    arm("control", "up-c", 250, &[("checkout", 75)]),
                    arm("treatment", "up-t", 250, &[("checkout", 75)]),
                ],
            ),
            (
                "no_effect",
                json!({"targetMde": 0.6}),
                vec![(checkout.as_str(), "INCREASE", "PRIMARY")],
                vec![
                    arm("control", "ne-c", 250, &[("checkout", 75)]),
                    arm("treatment", "ne-t", 250, &[("checkout", 75)]),
                ],
            ),
        ];
        let mut events = Vec::new();
        let mut experiments = Vec::new();
        for (name, analysis, attachments, arms) in &scenarios {
            let feature = app
                .feature(&world.project_a, name, "control:50,treatment:50")
                .await;
            let (id, start) = experiment_with(&app, ENV, &feature, name, analysis.clone()).await;
            for (metric, direction, role) in attachments {
                attach_as(&app, &id, metric, direction, role).await;
            }
            for arm in arms {
                events.extend(arm.events(ENV, name, start));
            }
            experiments.push(id);
        }
        // Three arms on equal weights: `a` doubles checkout (WIN), `b` cuts it to a fifth (LOSS).
        let three = app
            .feature(&world.project_a, "three_arms", "control:1,a:1,b:1")
            .await;
        let (three_arms, start) = experiment_with(&app, ENV, &three, "Three arms", json!({})).await;
        attach_as(&app, &three_arms, &checkout, "INCREASE", "PRIMARY").await;
        for arm in [
            arm("control", "3c", 250, win),
            arm("a", "3a", 250, &[("checkout", 100)]),
            arm("b", "3b", 250, &[("checkout", 10)]),
        ] {
            events.extend(arm.events(ENV, "three_arms", start));
        }
        warehouse.insert(&events).await;
        let [no_primary, guardrail_loss, primary_loss, ship, waiting, underpowered, no_effect] =
            <[_; 7]>::try_from(experiments).expect("seven experiments");

        let r = decided(&decisions(&app, &no_primary).await);
        assert_eq!(
            r,
            [one(
                "treatment",
                "CHECK_SETUP",
                &["No primary metric is attached: nothing says what success is."]
            )]
        );

        let r = decisions(&app, &guardrail_loss).await;
        assert_eq!(verdict(&r, &checkout, "treatment"), "WIN");
        assert_eq!(
            verdict(&r, &errors, "treatment"),
            "LOSS",
            "10 % → 30 % errors"
        );
        assert_eq!(
            decided(&r),
            [one(
                "treatment",
                "ROLL_BACK",
                &["Errors (guardrail) is a loss."]
            )]
        );

        let r = decisions(&app, &primary_loss).await;
        assert_eq!(verdict(&r, &checkout, "treatment"), "LOSS", "40 % → 20 %");
        assert_eq!(
            decided(&r),
            [one(
                "treatment",
                "ROLL_BACK",
                &["Checkout (primary) is a loss."]
            )]
        );

        let r = decisions(&app, &ship).await;
        assert_eq!(verdict(&r, &checkout, "treatment"), "WIN");
        assert_eq!(verdict(&r, &errors, "treatment"), "INCONCLUSIVE");
        assert_eq!(
            verdict(&r, &newsletter, "treatment"),
            "LOSS",
            "a secondary does not decide"
        );
        assert_eq!(
            decided(&r),
            [one(
                "treatment",
                "SHIP",
                &["Checkout (primary) wins.", "No guardrail metric loses."]
            )]
        );

        let r = decisions(&app, &waiting).await;
        assert_eq!(verdict(&r, &checkout, "treatment"), "WIN");
        assert_eq!(
            verdict(&r, &rare, "treatment"),
            "NOT_ENOUGH_DATA",
            "2 and 4 conversions"
        );
        assert_eq!(
            decided(&r),
            [one(
                "treatment",
                "KEEP_RUNNING",
                &["Rare (primary) does not have enough data yet."]
            )]
        );

        // 30 % in both arms: inconclusive; the MDE at 250 per arm is far above 5 % but below 60 %.
        let r = decisions(&app, &underpowered).await;
        assert_eq!(verdict(&r, &checkout, "treatment"), "INCONCLUSIVE");
        let detectable = mde(&r, &checkout, "treatment");
        assert!(0.05 < detectable && detectable <= 0.6, "MDE {detectable}");
        let reason = format!(
            "Checkout (primary) can detect a {:.1}% change so far; the target is 5.0%.",
            detectable * 100.0
        );
        assert_eq!(
            decided(&r),
            [one("treatment", "KEEP_RUNNING", &[reason.as_str()])]
        );

        let r = decisions(&app, &no_effect).await;
        assert_eq!(verdict(&r, &checkout, "treatment"), "INCONCLUSIVE");
        assert_eq!(mde(&r, &checkout, "treatment"), detectable, "the same sums");
        let reason = format!(
            "Checkout (primary) is inconclusive although a {:.1}% change would be detected.",
            detectable * 100.0
        );
        assert_eq!(
            decided(&r),
            [one("treatment", "NO_DETECTABLE_EFFECT", &[reason.as_str()])]
        );

        let r = decisions(&app, &three_arms).await;
        assert_eq!(verdict(&r, &checkout, "a"), "WIN");
        assert_eq!(verdict(&r, &checkout, "b"), "LOSS");
        assert_eq!(
            decided(&r),
            [
                one(
                    "a",
                    "SHIP",
                    &["Checkout (primary) wins.", "No guardrail metric loses."]
                ),
                one("b", "ROLL_BACK", &["Checkout (primary) is a loss."]),
            ]
        );
    }
);
