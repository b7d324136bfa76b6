//! The feature gate: with `experimentation_enabled` off, everyone who could see the objects gets
//! `EXPERIMENTATION_DISABLED`, those without access still get `NOT_FOUND`, and nothing changes.

use lift::admin::AdminCommand;

use super::*;

db_test!(
    disabling_experimentation_blocks_everyone_who_could_see_it,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "gated").await;
        let experiment = app.experiment(ENV, &world.feature, "gated").await;
        let metrics_before = metric_count(&app, ENV).await;
        app.admin(AdminCommand::SetExperimentation {
            organisation: world.org_a.clone(),
            enabled: false,
        })
        .await;

        // Admins: reads and writes are gated.
        for user in [ORG_ADMIN, PROJECT_ADMIN, ENV_ADMIN] {
            let body = app.gql(user, READ_METRIC, json!({"id": metric})).await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            assert!(body["data"]["metric"].is_null(), "{body}");
            let body = app
                .gql(user, READ_EXPERIMENT, json!({"id": experiment}))
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            let body = app
                .gql(
                    user,
                    CREATE_METRIC,
                    json!({"input": metric_input(ENV, "while disabled")}),
                )
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            assert!(body["data"].is_null(), "{body}");
            let body = app
                .gql(
                    user,
                    &lifecycle_mutation("startExperiment"),
                    json!({"id": experiment}),
                )
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            let body = app.gql(user, DELETE_METRIC, json!({"id": metric})).await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            let body = app
                .gql(
                    user,
                    ATTACH_METRIC,
                    json!({"input": {"experimentId": experiment, "metricId": metric, "expectedDirection": "INCREASE"}}),
                )
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
        }

        // Viewers and admins: the environment itself stays readable and shows the gate; its
        // metric and experiment lists are gated.
        for user in [ORG_ADMIN, ENV_ADMIN, PROJECT_VIEWER, ENV_VIEWER] {
            let body = app
                .gql(
                    user,
                    "query($key: String!) { environment(key: $key) { key name organisation { experimentationEnabled } } }",
                    json!({"key": ENV}),
                )
                .await;
            assert_eq!(code(&body), "OK", "{user}: {body}");
            let env = &body["data"]["environment"];
            assert_eq!(env["key"], ENV, "{body}");
            assert_eq!(env["name"], ENV, "{body}");
            assert_eq!(
                env["organisation"]["experimentationEnabled"], false,
                "{body}"
            );
            for query in [ENV_METRICS, ENV_EXPERIMENTS] {
                let body = app.gql(user, query, json!({"key": ENV})).await;
                assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            }
        }
        for user in [PROJECT_VIEWER, ENV_VIEWER] {
            let body = app.gql(user, READ_METRIC, json!({"id": metric})).await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            let body = app
                .gql(user, READ_EXPERIMENT, json!({"id": experiment}))
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            // The gate comes before FORBIDDEN: a viewer's write is refused for the same reason.
            let body = app
                .gql(
                    user,
                    CREATE_METRIC,
                    json!({"input": metric_input(ENV, "gated")}),
                )
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
        }

        // No access at all: still NOT_FOUND, the gate does not reveal the objects.
        for user in [ORG_USER, OUTSIDER, OTHER_ORG_ADMIN] {
            let body = app
                .gql(
                    user,
                    "query($key: String!) { environment(key: $key) { key } }",
                    json!({"key": ENV}),
                )
                .await;
            assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
            let body = app.gql(user, READ_METRIC, json!({"id": metric})).await;
            assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
            let body = app
                .gql(user, READ_EXPERIMENT, json!({"id": experiment}))
                .await;
            assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
            let body = app
                .gql(
                    user,
                    CREATE_METRIC,
                    json!({"input": metric_input(ENV, "outsider while disabled")}),
                )
                .await;
            assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
        }

        // Organisation B is not affected.
        let body = app
            .gql(
                OTHER_ORG_ADMIN,
                CREATE_METRIC,
                json!({"input": metric_input(ENV_B, "b metric")}),
            )
            .await;
        assert_eq!(code(&body), "OK", "{body}");

        // Enabled again: everything is back, and nothing changed while it was off.
        app.admin(AdminCommand::SetExperimentation {
            organisation: world.org_a.clone(),
            enabled: true,
        })
        .await;
        assert_eq!(metric_count(&app, ENV).await, metrics_before);
        let body = app
            .gql(ENV_VIEWER, READ_METRIC, json!({"id": metric}))
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        assert!(body["data"]["metric"]["deletedAt"].is_null(), "{body}");
        let (admin_code, seen) = admin_experiment(&app, &experiment).await;
        assert_eq!(admin_code, "OK");
        assert_eq!(seen["status"], "CREATED", "{seen}");
        assert_eq!(seen["metrics"], json!([]), "{seen}");
        let data = app
            .ok(
                ENV_VIEWER,
                "query($key: String!) { environment(key: $key) { organisation { experimentationEnabled } } }",
                json!({"key": ENV}),
            )
            .await;
        assert_eq!(
            data["environment"]["organisation"]["experimentationEnabled"],
            true
        );
    }
);
