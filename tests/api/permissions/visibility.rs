//! What each role can see: exactly the environments it is granted, and to a user without access
//! an existing object looks exactly like a missing one.

use super::*;

db_test!(
    each_role_sees_exactly_the_environments_it_is_granted,
    |app| {
        app.world().await;
        let cases: [(&str, &[&str], &[&str]); 8] = [
            (ORG_ADMIN, &[ENV, OTHER_ENV], &[ENV, OTHER_ENV]),
            (PROJECT_ADMIN, &[ENV, OTHER_ENV], &[ENV, OTHER_ENV]),
            (ENV_ADMIN, &[ENV], &[ENV]),
            (PROJECT_VIEWER, &[ENV, OTHER_ENV], &[]),
            (ENV_VIEWER, &[ENV], &[]),
            (ORG_USER, &[], &[]),
            (OUTSIDER, &[], &[]),
            (OTHER_ORG_ADMIN, &[ENV_B], &[ENV_B]),
        ];
        for (user, visible, administered) in cases {
            let data = app
                .ok(user, "{ viewer { environments { key } } }", json!({}))
                .await;
            let mut keys: Vec<&str> = data["viewer"]["environments"]
                .as_array()
                .expect("environments")
                .iter()
                .map(|e| e["key"].as_str().expect("key"))
                .collect();
            keys.sort_unstable();
            let mut expected = visible.to_vec();
            expected.sort_unstable();
            assert_eq!(keys, expected, "viewer.environments of {user}");

            for key in [ENV, OTHER_ENV, ENV_B] {
                let body = app
                .gql(
                    user,
                    "query($key: String!) { environment(key: $key) { key viewerCanAdminister } }",
                    json!({"key": key}),
                )
                .await;
                if visible.contains(&key) {
                    assert_eq!(code(&body), "OK", "{user} reading {key}: {body}");
                    assert_eq!(
                        body["data"]["environment"]["viewerCanAdminister"],
                        administered.contains(&key),
                        "{user} administering {key}: {body}"
                    );
                } else {
                    assert_eq!(code(&body), "NOT_FOUND", "{user} reading {key}: {body}");
                    assert!(body["data"]["environment"].is_null(), "{body}");
                }
            }
        }
    }
);

db_test!(
    an_invisible_object_looks_exactly_like_a_missing_one,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "hidden").await;
        let experiment = app.experiment(ENV, &world.feature, "hidden").await;
        let attachment = app.attach(&experiment, &metric).await;
        let missing = uuid::Uuid::now_v7().to_string();
        let cases: [(&str, &str, Value, Value); 5] = [
            (
                "environment",
                "query($key: String!) { environment(key: $key) { key } }",
                json!({"key": ENV}),
                json!({"key": "no-such-environment"}),
            ),
            (
                "metric",
                READ_METRIC,
                json!({"id": metric}),
                json!({"id": missing}),
            ),
            (
                "experiment",
                READ_EXPERIMENT,
                json!({"id": experiment}),
                json!({"id": missing}),
            ),
            (
                "deleteMetric",
                DELETE_METRIC,
                json!({"id": metric}),
                json!({"id": missing}),
            ),
            (
                "detachMetric",
                DETACH_METRIC,
                json!({"id": attachment}),
                json!({"id": missing}),
            ),
        ];
        for user in [ORG_USER, OUTSIDER, OTHER_ORG_ADMIN] {
            for (name, query, hidden, absent) in &cases {
                let seen = app.gql(user, query, hidden.clone()).await;
                let gone = app.gql(user, query, absent.clone()).await;
                assert_eq!(code(&seen), "NOT_FOUND", "{user} {name}: {seen}");
                assert_eq!(code(&gone), "NOT_FOUND", "{user} {name}: {gone}");
                assert_eq!(
                    seen["errors"][0]["message"], gone["errors"][0]["message"],
                    "{user} {name}: the message must not tell hidden from missing"
                );
            }
        }
        // Nothing was touched by the refused mutations.
        assert_eq!(admin_metric(&app, &metric).await.0, "OK");
        let (_, seen) = admin_experiment(&app, &experiment).await;
        assert_eq!(seen["metrics"][0]["id"], attachment.as_str(), "{seen}");
    }
);
