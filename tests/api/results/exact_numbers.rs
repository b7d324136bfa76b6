//! Exact numbers from a hand-made event set: who is assigned where (first exposure in range,
//! EXCLUDE vs FIRST_TOUCH, unknown variants, exposures before the start or after the end), and per
//! metric kind the per-variant `n`, `sum` and `sumOfSquares` (exact duplicates removed, events
//! before the exposure, after the end or outside the window ignored, inactive identities as zeros
//! except for MEAN). Every expected value is worked out by hand in the comments. The same numbers
//! hold on both kinds of events table: a plain `MergeTree` (deduplicated at read time) and the
//! deduplicating table `lift clickhouse init` creates; and a redelivery of every event (a second
//! INSERT: an unmerged part of duplicates) changes nothing on either.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

/// The event set; `s` is the experiment's start. Offsets are from `s`; "future" is a day after now,
/// i.e. after the end of a running experiment.
pub(super) fn events(s: DateTime<Utc>) -> Vec<Event> {
    let h = |hours: i64| s + Duration::hours(hours);
    let m = |minutes: i64| s + Duration::minutes(minutes);
    let future = Utc::now() + Duration::days(1);
    let exposure =
        |id: &str, variant: &str, at| Event::exposure(ENV, EXPOSURE, FEATURE, id, variant, at);
    let purchase = |id: &str, at, value: &str, amount: f64| {
        Event::track(ENV, "purchase", id, at)
            .value(value)
            .metadata(json!({ "amount": amount }))
    };
    let signup =
        |id: &str, at, properties| Event::track(ENV, "signup", id, at).metadata(properties);
    vec![
        // Exposures.
        exposure("c1", "control", h(1)),
        exposure("c2", "control", h(1)),
        exposure("c2", "control", h(1)),    // exact duplicate
        exposure("c3", "control", h(2)),    // inactive: no metric events
        exposure("c4", "treatment", h(-1)), // before the start: ignored, so c4 is not multiple
        exposure("c4", "control", h(3)),
        exposure("t1", "treatment", h(1)),
        exposure("t2", "treatment", h(2)),
        exposure("t3", "treatment", h(3)), // inactive
        exposure("m1", "control", h(1)),   // two variants, control first
        exposure("m1", "treatment", h(5)),
        exposure("m2", "treatment", h(1)), // two variants, treatment first
        exposure("m2", "control", h(2)),
        exposure("u1", "ghost", h(1)), // not a variant of the feature
        exposure("f1", "control", future), // after the end: not exposed
        // Exposures that are not this experiment's.
        Event::exposure(ENV, EXPOSURE, "solo", "n1", "control", h(1)),
        Event::exposure("elsewhere", EXPOSURE, FEATURE, "n2", "control", h(1)),
        Event::exposure(ENV, "$other_exposure", FEATURE, "n3", "control", h(1)),
        // Purchases: (identity, time, value, metadata.amount).
        purchase("c1", m(30), "100", 100.0), // before c1's exposure
        purchase("c1", h(2), "10", 1.0),
        purchase("c1", h(2), "10", 1.0), // exact duplicate
        purchase("c1", h(72), "20", 2.0),
        purchase("c2", h(1), "5", 5.0),  // at the exposure itself
        purchase("c2", h(25), "7", 0.5), // exactly one day after c2's exposure
        purchase("c4", h(4), "2.5", 3.0),
        purchase("c4", future, "1000", 1000.0), // after the end
        purchase("t1", h(2), "30", 4.0),
        purchase("t1", h(2), "30", 6.0), // same time and value, other metadata: not a duplicate
        purchase("t2", h(1), "50", 50.0), // before t2's exposure
        purchase("t2", h(5), "8", 2.0),
        purchase("m1", h(6), "40", 10.0),
        purchase("m2", h(6), "60", 20.0),
        purchase("u1", h(2), "99", 99.0), // unknown variant
        purchase("z1", h(2), "77", 77.0), // never exposed
        purchase("f1", h(2), "66", 66.0), // exposed only after the end
        Event::track("elsewhere", "purchase", "c1", h(2))
            .value("1000")
            .metadata(json!({ "amount": 1000.0 })), // another environment
        // Signups, counted when metadata.country = "NL".
        signup("c1", h(2), json!({ "country": "NL" })),
        signup("c1", h(3), json!({ "country": "NL" })),
        signup("c2", h(2), json!({ "country": "DE" })),
        signup("c4", h(5), json!({ "country": "NL" })),
        signup("t1", h(2), json!({})),
        signup("t2", m(90), json!({ "country": "NL" })), // before t2's exposure (h(2))
        signup("m2", h(3), json!({ "country": "NL" })),
    ]
}

/// The metrics, in the order they are attached: (label, input).
pub(super) fn metric_inputs() -> Vec<(&'static str, serde_json::Value)> {
    let purchase = |value: serde_json::Value| json!({ "event": "purchase", "value": value });
    vec![
        (
            "count",
            metric_of(ENV, "Purchases", "COUNT", json!({ "event": "purchase" })),
        ),
        (
            "revenue",
            metric_of(
                ENV,
                "Revenue",
                "SUM",
                purchase(json!({ "source": "EVENT_VALUE" })),
            ),
        ),
        (
            "amount",
            metric_of(
                ENV,
                "Amount",
                "SUM",
                purchase(json!({ "source": "PROPERTY", "property": "amount" })),
            ),
        ),
        (
            "mean",
            metric_of(
                ENV,
                "Order value",
                "MEAN",
                purchase(json!({ "source": "EVENT_VALUE" })),
            ),
        ),
        (
            "nl signup",
            metric_of(
                ENV,
                "Dutch signups",
                "OCCURRENCE",
                json!({ "event": "signup",
                        "filters": [{ "property": "country", "op": "EQ", "value": { "string": "NL" } }] }),
            ),
        ),
        (
            "window",
            metric_of(
                ENV,
                "Purchases in the first day",
                "COUNT",
                json!({ "event": "purchase", "window": { "startSeconds": 3600, "endSeconds": 86400 } }),
            ),
        ),
    ]
}

db_test_with!(
    hand_made_events_give_the_exact_numbers_under_exclude_and_first_touch,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        exact_numbers(&app, Warehouse::create().await, 1).await;
    }
);

db_test_with!(
    the_table_lift_creates_gives_the_same_exact_numbers_with_every_event_delivered_twice,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        exact_numbers(&app, Warehouse::create_deduplicating().await, 2).await;
    }
);

db_test_with!(
    a_plain_table_gives_the_same_exact_numbers_with_every_event_delivered_twice,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        exact_numbers(&app, Warehouse::create().await, 2).await;
    }
);

db_test_with!(
    a_deduplicating_and_a_plain_table_give_identical_results,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let deduplicating = Warehouse::create_deduplicating().await;
        let plain = Warehouse::create().await;
        let mut ids = Vec::new();
        for (_, input) in metric_inputs() {
            ids.push(metric(&app, input).await);
        }
        let (experiment, s) = started_experiment(&app, ENV, &world.feature, "Both", None).await;
        for id in &ids {
            attach_as(&app, &experiment, id, "INCREASE", "PRIMARY").await;
        }
        // Each delivery is its own INSERT (its own part), so duplicates sit in unmerged parts.
        for warehouse in [&deduplicating, &plain] {
            warehouse.insert(&events(s)).await;
            warehouse.insert(&events(s)).await;
        }
        // The plain table holds every delivery (the deduplicating one may already have merged some).
        assert_eq!(plain.count().await, 2 * events(s).len() as u64);
        let connection = connect(&app, ENV, &deduplicating).await;
        let mut on_deduplicating = results(&app, &experiment).await;
        app.ok(
            users::ORG_ADMIN,
            "mutation($id: ID!) { deleteWarehouseConnection(id: $id) { id } }",
            json!({ "id": connection }),
        )
        .await;
        connect(&app, ENV, &plain).await;
        let mut on_plain = results(&app, &experiment).await;
        // Everything but when each was computed.
        for r in [&mut on_deduplicating, &mut on_plain] {
            r.as_object_mut().expect("results").remove("computedAt");
        }
        assert_eq!(on_deduplicating, on_plain);
        // Not vacuous: every metric has numbers in both variants.
        assert_eq!(
            exposures(&on_plain),
            [("control".to_owned(), 4), ("treatment".to_owned(), 3)]
        );
        for id in &ids {
            let metric = metric_results(&on_plain, id);
            assert!(
                number(&variant_stats(metric, "control")["n"]) > 0.0,
                "{metric}"
            );
        }
    }
);

/// Connects `ENV` to `warehouse`, inserts the events `deliveries` times (one INSERT each), and
/// checks every number under EXCLUDE, then under FIRST_TOUCH.
async fn exact_numbers(app: &TestApp, warehouse: Warehouse, deliveries: usize) {
    {
        let world = app.world().await;
        connect(app, ENV, &warehouse).await;
        let mut metrics = Vec::new();
        for (label, input) in metric_inputs() {
            metrics.push((label, metric(app, input).await));
        }
        let id = |label: &str| {
            metrics
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, id)| id.clone())
                .expect("metric")
        };

        // EXCLUDE (the default).
        let (exclude, s) = started_experiment(app, ENV, &world.feature, "Exclude", None).await;
        let handling = app
            .ok(
                users::ORG_ADMIN,
                "query($id: ID!) { experiment(id: $id) { multipleExposureHandling } }",
                json!({ "id": exclude }),
            )
            .await;
        assert_eq!(
            handling["experiment"]["multipleExposureHandling"],
            "EXCLUDE"
        );
        for (_, metric) in &metrics {
            attach_as(app, &exclude, metric, "INCREASE", "PRIMARY").await;
        }
        for _ in 0..deliveries {
            warehouse.insert(&events(s)).await;
        }

        let r = results(app, &exclude).await;
        assert_eq!(r["frozen"], false);
        // control: c1 c2 c3 c4 (c4's treatment exposure was before the start; f1's after the end);
        // treatment: t1 t2 t3. m1, m2 saw both variants (excluded); u1 saw "ghost".
        assert_eq!(
            exposures(&r),
            [("control".to_owned(), 4), ("treatment".to_owned(), 3)]
        );
        assert_eq!(left_out(&r), (3, 2, 1), "(excluded, multiple, unknown)");
        // χ² of 4 vs 3 against 3.5 each: 2 · 0.5² / 3.5 = 1/7.
        assert_close(number(&r["srm"]["chiSquare"]), 1.0 / 7.0, "srm chiSquare");
        assert_eq!(r["srm"]["mismatch"], false);
        assert_eq!(
            r["metrics"].as_array().map(Vec::len),
            Some(6),
            "one entry per metric"
        );

        // COUNT purchase: c1 = 2 (h2 once after dedup, h72; the m30 one precedes its exposure),
        // c2 = 2 (h1 at the exposure, h25), c3 = 0, c4 = 1 (the future one is after the end) →
        // n 4, sum 5, Σx² 4+4+0+1 = 9. t1 = 2 (metadata differs), t2 = 1 (h1 precedes its
        // exposure), t3 = 0 → n 3, sum 3, Σx² 4+1 = 5.
        assert_stats(
            &r,
            &id("count"),
            "COUNT",
            &[("control", 4, 5.0, 9.0), ("treatment", 3, 3.0, 5.0)],
        );
        // SUM value: c1 10+20 = 30, c2 5+7 = 12, c3 0, c4 2.5 → sum 44.5, Σx² 900+144+6.25 =
        // 1050.25. t1 30+30 = 60, t2 8, t3 0 → sum 68, Σx² 3600+64 = 3664.
        assert_stats(
            &r,
            &id("revenue"),
            "SUM value",
            &[
                ("control", 4, 44.5, 1050.25),
                ("treatment", 3, 68.0, 3664.0),
            ],
        );
        // SUM amount: c1 1+2 = 3, c2 5+0.5 = 5.5, c3 0, c4 3 → sum 11.5, Σx² 9+30.25+9 = 48.25.
        // t1 4+6 = 10, t2 2, t3 0 → sum 12, Σx² 100+4 = 104.
        assert_stats(
            &r,
            &id("amount"),
            "SUM property",
            &[("control", 4, 11.5, 48.25), ("treatment", 3, 12.0, 104.0)],
        );
        // MEAN value, only identities with events: c1 (10+20)/2 = 15, c2 (5+7)/2 = 6, c4 2.5 →
        // n 3, sum 23.5, Σx² 225+36+6.25 = 267.25. t1 30, t2 8 → n 2, sum 38, Σx² 900+64 = 964.
        assert_stats(
            &r,
            &id("mean"),
            "MEAN",
            &[("control", 3, 23.5, 267.25), ("treatment", 2, 38.0, 964.0)],
        );
        let mean = metric_results(&r, &id("mean"));
        assert_close(
            number(&variant_stats(mean, "control")["mean"]),
            23.5 / 3.0,
            "MEAN control mean",
        );
        assert_close(
            number(&variant_stats(mean, "treatment")["mean"]),
            19.0,
            "MEAN treatment mean",
        );
        // OCCURRENCE signup with country NL: c1 1 (twice, counted once), c2 0 (DE), c3 0, c4 1 →
        // n 4, sum 2, Σx² 2. t1 0 (no country), t2 0 (before its exposure), t3 0 → n 3, sum 0.
        assert_stats(
            &r,
            &id("nl signup"),
            "OCCURRENCE",
            &[("control", 4, 2.0, 2.0), ("treatment", 3, 0.0, 0.0)],
        );
        // COUNT purchase within [exposure + 1 h, exposure + 24 h): c1 1 (h2 = +1 h, start
        // inclusive), c2 0 (h1 = +0 h, h25 = +24 h, end exclusive), c3 0, c4 1 (h4 = +1 h from
        // h3) → sum 2, Σx² 2. t1 2, t2 1 (h5 = +3 h), t3 0 → sum 3, Σx² 5.
        assert_stats(
            &r,
            &id("window"),
            "COUNT in window",
            &[("control", 4, 2.0, 2.0), ("treatment", 3, 3.0, 5.0)],
        );
        for metric in r["metrics"].as_array().expect("metrics") {
            assert_eq!(
                comparison(metric, "treatment")["verdict"],
                "NOT_ENOUGH_DATA",
                "fewer than 50 identities per arm: {metric}"
            );
        }

        // The same events under FIRST_TOUCH: m1 joins control (its first exposure), m2 treatment.
        let body = app.lifecycle("completeExperiment", &exclude).await;
        assert_eq!(code(&body), "OK", "{body}");
        let (first_touch, _) =
            started_experiment(app, ENV, &world.feature, "First touch", Some("FIRST_TOUCH")).await;
        set_started_at(app, &first_touch, s).await;
        for (_, metric) in &metrics {
            attach_as(app, &first_touch, metric, "INCREASE", "PRIMARY").await;
        }
        let r = results(app, &first_touch).await;
        assert_eq!(
            exposures(&r),
            [("control".to_owned(), 5), ("treatment".to_owned(), 4)]
        );
        assert_eq!(
            left_out(&r),
            (1, 2, 1),
            "only u1 is left out; m1 and m2 are still counted as multiple"
        );
        // m1 (control) adds a purchase at h6: value 40, amount 10; m2 (treatment) value 60,
        // amount 20, and a Dutch signup at h3. Both purchases are +5 h after the first exposure.
        assert_stats(
            &r,
            &id("count"),
            "COUNT",
            &[("control", 5, 6.0, 10.0), ("treatment", 4, 4.0, 6.0)],
        );
        assert_stats(
            &r,
            &id("revenue"),
            "SUM value",
            &[
                ("control", 5, 84.5, 2650.25),
                ("treatment", 4, 128.0, 7264.0),
            ],
        );
        assert_stats(
            &r,
            &id("amount"),
            "SUM property",
            &[("control", 5, 21.5, 148.25), ("treatment", 4, 32.0, 504.0)],
        );
        assert_stats(
            &r,
            &id("mean"),
            "MEAN",
            &[
                ("control", 4, 63.5, 1867.25),
                ("treatment", 3, 98.0, 4564.0),
            ],
        );
        assert_stats(
            &r,
            &id("nl signup"),
            "OCCURRENCE",
            &[("control", 5, 2.0, 2.0), ("treatment", 4, 1.0, 1.0)],
        );
        assert_stats(
            &r,
            &id("window"),
            "COUNT in window",
            &[("control", 5, 3.0, 3.0), ("treatment", 4, 4.0, 6.0)],
        );
    }
}
