//! The boundaries between environments and organisations: grants, metrics and features of one
//! never reach into another, and a refusal does not leak what lies on the other side.

use super::*;

db_test!(grants_on_one_environment_reach_no_other, |app| {
    let world = app.world().await;
    let staging_metric = app.metric(OTHER_ENV, "staging metric").await;
    let staging_experiment = app
        .experiment(OTHER_ENV, &world.feature, "staging experiment")
        .await;
    for user in [ENV_ADMIN, ENV_VIEWER] {
        let body = app
            .gql(user, READ_METRIC, json!({"id": staging_metric}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
        let body = app
            .gql(user, READ_EXPERIMENT, json!({"id": staging_experiment}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
    }
    // The environment admin of `prod` cannot write in `staging` either.
    let before = metric_count(&app, OTHER_ENV).await;
    let body = app
        .gql(
            ENV_ADMIN,
            CREATE_METRIC,
            json!({"input": metric_input(OTHER_ENV, "sneaky")}),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    assert_eq!(metric_count(&app, OTHER_ENV).await, before);
    let body = app
        .gql(ENV_ADMIN, DELETE_METRIC, json!({"id": staging_metric}))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    assert_eq!(admin_metric(&app, &staging_metric).await.0, "OK");
    let body = app
        .gql(
            ENV_ADMIN,
            &lifecycle_mutation("startExperiment"),
            json!({"id": staging_experiment}),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    assert_eq!(
        admin_experiment(&app, &staging_experiment).await.1["status"],
        "CREATED"
    );
    // The project viewer sees `staging` but still cannot change it.
    let body = app
        .gql(PROJECT_VIEWER, READ_METRIC, json!({"id": staging_metric}))
        .await;
    assert_eq!(code(&body), "OK", "{body}");
    let body = app
        .gql(PROJECT_VIEWER, DELETE_METRIC, json!({"id": staging_metric}))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert_eq!(admin_metric(&app, &staging_metric).await.0, "OK");
});

db_test!(
    another_organisations_admin_can_neither_read_nor_attach_our_objects,
    |app| {
        let world = app.world().await;
        let metric_a = app.metric(ENV, "org a metric").await;
        let experiment_a = app
            .experiment(ENV, &world.feature, "org a experiment")
            .await;

        // Organisation B's admin with its own experiment and metric in `b-prod`.
        let experiment_b = app
            .ok(
                OTHER_ORG_ADMIN,
                CREATE_EXPERIMENT,
                json!({"input": {"environmentKey": ENV_B, "featureId": world.feature_b, "name": "b"}}),
            )
            .await["createExperiment"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let metric_b = app
            .ok(
                OTHER_ORG_ADMIN,
                CREATE_METRIC,
                json!({"input": metric_input(ENV_B, "org b metric")}),
            )
            .await["createMetric"]["id"]
            .as_str()
            .expect("id")
            .to_owned();

        let attach = |experiment: &str, metric: &str| json!({"input": {"experimentId": experiment, "metricId": metric, "expectedDirection": "INCREASE"}});
        // B's admin cannot read A's objects, nor attach A's metric anywhere.
        for (query, vars) in [
            (READ_METRIC, json!({"id": metric_a})),
            (READ_EXPERIMENT, json!({"id": experiment_a})),
            (ATTACH_METRIC, attach(&experiment_b, &metric_a)),
            (ATTACH_METRIC, attach(&experiment_a, &metric_a)),
            (ATTACH_METRIC, attach(&experiment_a, &metric_b)),
        ] {
            let body = app.gql(OTHER_ORG_ADMIN, query, vars.clone()).await;
            assert_eq!(code(&body), "NOT_FOUND", "{vars}: {body}");
        }
        // A's admin cannot reach into B either.
        for (query, vars) in [
            (READ_METRIC, json!({"id": metric_b})),
            (READ_EXPERIMENT, json!({"id": experiment_b})),
            (ATTACH_METRIC, attach(&experiment_a, &metric_b)),
            (ATTACH_METRIC, attach(&experiment_b, &metric_a)),
        ] {
            let body = app.gql(ORG_ADMIN, query, vars.clone()).await;
            assert_eq!(code(&body), "NOT_FOUND", "{vars}: {body}");
        }
        // A feature of organisation B cannot back an experiment in A's environment.
        let before = experiment_count(&app, ENV).await;
        let body = app
            .gql(
                ORG_ADMIN,
                CREATE_EXPERIMENT,
                json!({"input": {"environmentKey": ENV, "featureId": world.feature_b, "name": "borrowed"}}),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(field(&body), "featureId", "{body}");
        assert_eq!(experiment_count(&app, ENV).await, before);

        // Nothing was attached on either side.
        let (_, seen) = admin_experiment(&app, &experiment_a).await;
        assert_eq!(seen["metrics"], json!([]), "{seen}");
        let data = app
            .ok(
                OTHER_ORG_ADMIN,
                READ_EXPERIMENT,
                json!({"id": experiment_b}),
            )
            .await;
        assert_eq!(data["experiment"]["metrics"], json!([]), "{data}");
    }
);

db_test!(
    attaching_a_metric_of_another_environment_is_refused_without_leaking_it,
    |app| {
        let world = app.world().await;
        let experiment = app.experiment(ENV, &world.feature, "prod experiment").await;
        let staging_metric = app.metric(OTHER_ENV, "staging metric").await;
        let vars = json!({"input": {"experimentId": experiment, "metricId": staging_metric, "expectedDirection": "INCREASE"}});

        // Someone who can see both environments learns why.
        for user in [ORG_ADMIN, PROJECT_ADMIN] {
            let body = app.gql(user, ATTACH_METRIC, vars.clone()).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{user}: {body}");
            assert_eq!(field(&body), "metricId", "{user}: {body}");
            assert!(body["data"].is_null(), "{body}");
        }
        // The admin of `prod` alone cannot see `staging`: the metric does not exist for them.
        let body = app.gql(ENV_ADMIN, ATTACH_METRIC, vars.clone()).await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        let missing = app
            .gql(
                ENV_ADMIN,
                ATTACH_METRIC,
                json!({"input": {"experimentId": experiment, "metricId": uuid::Uuid::now_v7().to_string(), "expectedDirection": "INCREASE"}}),
            )
            .await;
        assert_eq!(code(&missing), "NOT_FOUND", "{missing}");
        assert_eq!(
            body["errors"][0]["message"], missing["errors"][0]["message"],
            "a hidden metric must look like a missing one"
        );

        let (_, seen) = admin_experiment(&app, &experiment).await;
        assert_eq!(seen["metrics"], json!([]), "{seen}");
        let data = app
            .ok(
                ORG_ADMIN,
                "query($id: ID!) { metric(id: $id) { attachments { id } } }",
                json!({"id": staging_metric}),
            )
            .await;
        assert_eq!(data["metric"]["attachments"], json!([]), "{data}");
    }
);
