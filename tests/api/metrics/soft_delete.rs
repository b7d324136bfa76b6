//! Names are unique among live metrics; a soft-deleted metric disappears from every read; a metric
//! in use by an active (created, running or paused) experiment cannot be deleted.

use super::*;

const DELETE_METRIC: &str = "mutation($id: ID!) { deleteMetric(id: $id) { id name deletedAt } }";

const EXPERIMENT_METRICS: &str =
    "query($id: ID!) { experiment(id: $id) { id metrics { id metric { id } } } }";

async fn experiment_metric_ids(app: &TestApp, experiment: &str) -> Vec<String> {
    let data = app
        .ok(
            users::ORG_ADMIN,
            EXPERIMENT_METRICS,
            json!({"id": experiment}),
        )
        .await;
    data["experiment"]["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|a| a["metric"]["id"].as_str().expect("metric id").to_owned())
        .collect()
}

db_test!(
    a_duplicate_live_name_conflicts_until_the_first_metric_is_deleted,
    |app| {
        app.world().await;
        let first = app.metric(ENV, "Signups").await;

        let body = create(&app, metric_input(ENV, "Signups")).await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
        assert!(body["data"].is_null(), "{body}");
        let body = create(&app, metric_input(ENV, "  Signups  ")).await;
        assert_eq!(
            code(&body),
            "CONFLICT",
            "names are trimmed before the check: {body}"
        );
        assert_eq!(library(&app, ENV, None).await, (1, vec!["Signups".into()]));

        // Another environment has its own library.
        app.metric(OTHER_ENV, "Signups").await;

        let deleted = app
            .ok(users::ORG_ADMIN, DELETE_METRIC, json!({"id": first}))
            .await;
        assert_eq!(deleted["deleteMetric"]["id"], first.as_str());
        let second = app.metric(ENV, "Signups").await;
        assert_ne!(second, first);
        assert_eq!(library(&app, ENV, None).await, (1, vec!["Signups".into()]));

        let body = create(&app, metric_input(ENV, "Signups")).await;
        assert_eq!(
            code(&body),
            "CONFLICT",
            "the new live metric holds the name again: {body}"
        );
    }
);

db_test!(
    a_deleted_metric_disappears_from_every_read_and_cannot_be_deleted_twice,
    |app| {
        let world = app.world().await;
        let kept = app.metric(ENV, "Kept").await;
        let gone = app.metric(ENV, "Gone").await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        app.attach(&experiment, &kept).await;
        app.attach(&experiment, &gone).await;
        // Metrics of a completed experiment may be deleted; the attachment then stops showing.
        assert_eq!(
            code(&app.lifecycle("startExperiment", &experiment).await),
            "OK"
        );
        assert_eq!(
            code(&app.lifecycle("completeExperiment", &experiment).await),
            "OK"
        );
        assert_eq!(
            experiment_metric_ids(&app, &experiment).await,
            [kept.clone(), gone.clone()]
        );

        let deleted = app
            .ok(users::ORG_ADMIN, DELETE_METRIC, json!({"id": gone}))
            .await["deleteMetric"]
            .clone();
        assert_eq!(deleted["id"], gone.as_str());
        assert_eq!(deleted["name"], "Gone");
        assert!(deleted["deletedAt"].is_string(), "{deleted}");

        let body = app.gql(users::ORG_ADMIN, METRIC, json!({"id": gone})).await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        assert!(body["data"]["metric"].is_null(), "{body}");
        assert_eq!(library(&app, ENV, None).await, (1, vec!["Kept".into()]));
        assert_eq!(library(&app, ENV, Some("gone")).await, (0, vec![]));
        assert_eq!(experiment_metric_ids(&app, &experiment).await, [kept]);

        let body = app
            .gql(users::ORG_ADMIN, DELETE_METRIC, json!({"id": gone}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        let body = app
            .gql(
                users::ORG_ADMIN,
                DELETE_METRIC,
                json!({"id": "no-such-metric"}),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
    }
);

db_test!(
    a_metric_used_by_an_active_experiment_cannot_be_deleted_until_it_completes,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        app.attach(&experiment, &metric).await;

        let try_delete = || app.gql(users::ORG_ADMIN, DELETE_METRIC, json!({"id": metric}));
        for (status, step) in [
            ("CREATED", None),
            ("RUNNING", Some("startExperiment")),
            ("PAUSED", Some("pauseExperiment")),
            ("RUNNING again", Some("startExperiment")),
        ] {
            if let Some(step) = step {
                assert_eq!(code(&app.lifecycle(step, &experiment).await), "OK");
            }
            let body = try_delete().await;
            assert_eq!(code(&body), "CONFLICT", "{status}: {body}");
            assert!(body["data"].is_null(), "{status}: {body}");
            let still = app
                .ok(users::ORG_ADMIN, METRIC, json!({"id": metric}))
                .await;
            assert_eq!(still["metric"]["deletedAt"], Value::Null, "{status}");
            assert_eq!(library(&app, ENV, None).await.0, 1, "{status}");
        }

        assert_eq!(
            code(&app.lifecycle("completeExperiment", &experiment).await),
            "OK"
        );
        let body = try_delete().await;
        assert_eq!(
            code(&body),
            "OK",
            "allowed once the experiment completed: {body}"
        );
        assert_eq!(library(&app, ENV, None).await.0, 0);
    }
);

db_test!(
    a_metric_used_only_by_a_deleted_experiment_can_be_deleted,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        app.attach(&experiment, &metric).await;
        let body = app
            .gql(users::ORG_ADMIN, DELETE_METRIC, json!({"id": metric}))
            .await;
        assert_eq!(code(&body), "CONFLICT", "{body}");

        let deleted = app
            .gql(
                users::ORG_ADMIN,
                "mutation($id: ID!) { deleteExperiment(id: $id) { id } }",
                json!({"id": experiment}),
            )
            .await;
        assert_eq!(code(&deleted), "OK", "{deleted}");
        let body = app
            .gql(users::ORG_ADMIN, DELETE_METRIC, json!({"id": metric}))
            .await;
        assert_eq!(code(&body), "OK", "{body}");
    }
);

db_test!(
    a_metric_attached_to_an_active_experiment_and_a_completed_one_still_conflicts,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let done = app.experiment(ENV, &world.feature, "Done").await;
        app.attach(&done, &metric).await;
        assert_eq!(code(&app.lifecycle("startExperiment", &done).await), "OK");
        assert_eq!(
            code(&app.lifecycle("completeExperiment", &done).await),
            "OK"
        );
        let active_here = app.experiment(ENV, &world.feature, "Active here").await;
        app.attach(&active_here, &metric).await;

        let body = app
            .gql(users::ORG_ADMIN, DELETE_METRIC, json!({"id": metric}))
            .await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
    }
);
