//! Results are lazy: a request runs the exposure query only when it asks for exposures, SRM or the
//! left-out counts, the metrics query only when it asks for metrics, and each at most once however
//! many fields (or aliases) need it. Counted at `/metrics` (`lift_warehouse_queries_total`).

use chrono::Duration;
use serde_json::json;

use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

db_test_with!(
    each_query_runs_only_for_the_fields_that_need_it_and_at_most_once,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let count = metric(
            &app,
            metric_of(ENV, "Purchases", "COUNT", json!({ "event": "purchase" })),
        )
        .await;
        let amount = metric(
            &app,
            metric_of(
                ENV,
                "Revenue",
                "SUM",
                json!({ "event": "purchase", "value": { "source": "EVENT_VALUE" } }),
            ),
        )
        .await;

        // Before the first start there are no results, and nothing is asked.
        let experiment = created_experiment(&app, ENV, &world.feature, "Checkout", None).await;
        attach_as(&app, &experiment, &count, "INCREASE", "PRIMARY").await;
        attach_as(&app, &experiment, &amount, "INCREASE", "SECONDARY").await;
        let before = counters(&app).await;
        let body = results_as(
            &app,
            users::ORG_ADMIN,
            &experiment,
            "computedAt exposures { identities }",
        )
        .await;
        assert_eq!(code(&body), "OK", "{body}");
        assert_eq!(
            body["data"]["experiment"]["results"],
            serde_json::Value::Null
        );
        assert_eq!(counters(&app).await, before, "no results before the start");

        let body = app.lifecycle("startExperiment", &experiment).await;
        assert_eq!(code(&body), "OK", "{body}");
        let s = chrono::Utc::now() - Duration::days(10);
        set_started_at(&app, &experiment, s).await;
        warehouse
            .insert(&[
                Event::exposure(
                    ENV,
                    EXPOSURE,
                    FEATURE,
                    "c1",
                    "control",
                    s + Duration::hours(1),
                ),
                Event::exposure(
                    ENV,
                    EXPOSURE,
                    FEATURE,
                    "t1",
                    "treatment",
                    s + Duration::hours(1),
                ),
                Event::track(ENV, "purchase", "t1", s + Duration::hours(2)).value("3"),
            ])
            .await;
        assert_eq!(counters(&app).await, before, "starting asks nothing");

        // Only what every result has without the warehouse.
        let body = results_as(&app, users::ORG_ADMIN, &experiment, "computedAt frozen").await;
        assert_eq!(code(&body), "OK", "{body}");
        assert_eq!(body["data"]["experiment"]["results"]["frozen"], false);
        assert_eq!(
            counters(&app).await,
            before,
            "computedAt and frozen need no query"
        );

        // Exposures alone: one exposure query.
        let body = results_as(
            &app,
            users::ORG_ADMIN,
            &experiment,
            "exposures { variant identities }",
        )
        .await;
        assert_eq!(code(&body), "OK", "{body}");
        let after = counters(&app).await;
        assert_eq!(
            (
                after.exposures - before.exposures,
                after.metrics - before.metrics
            ),
            (1, 0),
            "exposures only"
        );

        // Everything the exposure query answers, in one request: still one query.
        let before = after;
        let body = results_as(
            &app,
            users::ORG_ADMIN,
            &experiment,
            "exposures { identities } srm { chiSquare mismatch } excludedIdentities multipleExposureIdentities unknownVariantIdentities",
        )
        .await;
        assert_eq!(code(&body), "OK", "{body}");
        let after = counters(&app).await;
        assert_eq!(
            (
                after.exposures - before.exposures,
                after.metrics - before.metrics
            ),
            (1, 0),
            "exposures, srm and the left-out counts share one query"
        );

        // Metrics asked twice (aliases) and with both parts: one metrics query for both metrics.
        let before = after;
        let body = results_as(
            &app,
            users::ORG_ADMIN,
            &experiment,
            "a: metrics { metricId variants { variant n sum } } b: metrics { comparisons { variant verdict } }",
        )
        .await;
        assert_eq!(code(&body), "OK", "{body}");
        let a = &body["data"]["experiment"]["results"]["a"];
        assert_eq!(a.as_array().map(Vec::len), Some(2), "{body}");
        assert_close(
            number(&variant_stats(&a[1], "treatment")["sum"]),
            3.0,
            "the revenue of t1",
        );
        let after = counters(&app).await;
        assert_eq!(
            (
                after.exposures - before.exposures,
                after.metrics - before.metrics
            ),
            (0, 1),
            "one metrics query, no exposure query"
        );

        // Both parts: one of each.
        let before = after;
        results(&app, &experiment).await;
        let after = counters(&app).await;
        assert_eq!(
            (
                after.exposures - before.exposures,
                after.metrics - before.metrics
            ),
            (1, 1),
            "a full results request"
        );

        // An experiment read without its results asks nothing.
        let before = after;
        app.ok(
            users::ORG_ADMIN,
            "query($id: ID!) { experiment(id: $id) { id name status startedAt } }",
            json!({ "id": experiment }),
        )
        .await;
        assert_eq!(counters(&app).await, before, "no results field, no query");
    }
);
