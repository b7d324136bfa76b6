//! Warehouse connections: environment admins create one per environment (the password is
//! write-only: never in a response or an audit entry), test it against the events table, and
//! delete it; others get FORBIDDEN or, when they cannot see the environment, NOT_FOUND.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

const PASSWORD: &str = "correct-horse-battery-staple-7f3a";

const ENVIRONMENT_CONNECTION: &str = "query($key: String!) { environment(key: $key) { warehouseConnection { id kind url database table user passwordSet createdAt } } }";

const TEST_CONNECTION: &str = "mutation($id: ID!, $event: String) { testWarehouseConnection(id: $id, exposureEvent: $event) { reachable exposureEvents hasExposureEvents message } }";

const DELETE_CONNECTION: &str =
    "mutation($id: ID!) { deleteWarehouseConnection(id: $id) { id url } }";

const AUDIT: &str = "query($key: String!) { environment(key: $key) { auditLogs(first: 50, relatedObjectType: WAREHOUSE_CONNECTION) { totalCount edges { node { action relatedObjectType relatedObjectId log changes } } } } }";

fn input(env: &str, warehouse: &Warehouse) -> Value {
    json!({
        "environmentKey": env, "kind": "CLICKHOUSE", "url": warehouse.url,
        "database": warehouse.database, "table": "events", "user": "lift_reader", "password": PASSWORD
    })
}

db_test_with!(
    environment_admins_manage_a_connection_whose_password_never_leaves,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        app.world().await;
        let warehouse = Warehouse::create().await;
        // Every response body of this test, to search for the password at the end.
        let mut seen = Vec::<Value>::new();

        for (user, expected) in [
            (users::ENV_VIEWER, "FORBIDDEN"),
            (users::PROJECT_VIEWER, "FORBIDDEN"),
            (users::OUTSIDER, "NOT_FOUND"),
            (users::OTHER_ORG_ADMIN, "NOT_FOUND"),
        ] {
            let body = app
                .gql(
                    user,
                    CREATE_CONNECTION,
                    json!({ "input": input(ENV, &warehouse) }),
                )
                .await;
            assert_eq!(code(&body), expected, "{user}: {body}");
            seen.push(body);
        }

        let body = app
            .gql(
                users::ENV_ADMIN,
                CREATE_CONNECTION,
                json!({ "input": input(ENV, &warehouse) }),
            )
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        let created = body["data"]["createWarehouseConnection"].clone();
        seen.push(body);
        let id = created["id"].as_str().expect("id").to_owned();
        assert_eq!(created["kind"], "CLICKHOUSE");
        assert_eq!(created["url"], warehouse.url.as_str());
        assert_eq!(created["database"], warehouse.database.as_str());
        assert_eq!(created["table"], "events");
        assert_eq!(created["user"], "lift_reader");
        assert_eq!(created["passwordSet"], true);
        assert!(created["createdAt"].is_string());

        let body = app
            .gql(
                users::ENV_ADMIN,
                ENVIRONMENT_CONNECTION,
                json!({ "key": ENV }),
            )
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        assert_eq!(body["data"]["environment"]["warehouseConnection"], created);
        seen.push(body);
        let body = app
            .gql(
                users::ENV_VIEWER,
                ENVIRONMENT_CONNECTION,
                json!({ "key": ENV }),
            )
            .await;
        assert_eq!(
            code(&body),
            "FORBIDDEN",
            "viewers do not see the connection: {body}"
        );
        seen.push(body);

        let body = app
            .gql(
                users::ORG_ADMIN,
                CREATE_CONNECTION,
                json!({ "input": input(ENV, &warehouse) }),
            )
            .await;
        assert_eq!(
            code(&body),
            "CONFLICT",
            "one connection per environment: {body}"
        );
        seen.push(body);

        // Names and addresses are checked, each with its field.
        for (key, bad) in [
            ("table", "events; DROP TABLE events"),
            ("table", "db.events"),
            ("database", "lift`test"),
            ("cluster", "lift`cluster"),
            ("cluster", "c ON CLUSTER x; DROP TABLE events"),
            ("url", "ftp://127.0.0.1:8123"),
            ("url", "127.0.0.1:8123"),
        ] {
            let mut bad_input = input(OTHER_ENV, &warehouse);
            bad_input[key] = json!(bad);
            let body = app
                .gql(
                    users::ORG_ADMIN,
                    CREATE_CONNECTION,
                    json!({ "input": bad_input }),
                )
                .await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{key} = {bad:?}: {body}");
            assert_eq!(field(&body), key, "{key} = {bad:?}: {body}");
            seen.push(body);
        }
        let body = app
            .ok(
                users::ORG_ADMIN,
                ENVIRONMENT_CONNECTION,
                json!({ "key": OTHER_ENV }),
            )
            .await;
        assert_eq!(
            body["environment"]["warehouseConnection"],
            Value::Null,
            "nothing was stored"
        );

        // The probe counts this environment's exposure events of the given name.
        let at = Utc::now() - Duration::hours(1);
        warehouse
            .insert(&[
                Event::exposure(ENV, EXPOSURE, FEATURE, "a", "control", at),
                Event::exposure(ENV, EXPOSURE, FEATURE, "b", "treatment", at),
                Event::exposure(ENV, EXPOSURE, "solo", "c", "control", at),
                Event::exposure(OTHER_ENV, EXPOSURE, FEATURE, "d", "control", at),
                Event::exposure(ENV, "checkout_seen", FEATURE, "e", "control", at),
                Event::track(ENV, "purchase", "a", at),
            ])
            .await;
        for (event, expected) in [(None, 3), (Some("checkout_seen"), 1), (Some("nothing"), 0)] {
            let body = app
                .gql(
                    users::ENV_ADMIN,
                    TEST_CONNECTION,
                    json!({ "id": id, "event": event }),
                )
                .await;
            assert_eq!(code(&body), "OK", "{body}");
            let report = &body["data"]["testWarehouseConnection"];
            assert_eq!(report["reachable"], true, "{event:?}: {report}");
            assert_eq!(report["exposureEvents"], expected, "{event:?}: {report}");
            assert_eq!(
                report["hasExposureEvents"],
                expected > 0,
                "{event:?}: {report}"
            );
            assert!(
                report["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{report}"
            );
            seen.push(body);
        }
        for (user, expected) in [
            (users::ENV_VIEWER, "FORBIDDEN"),
            (users::OUTSIDER, "NOT_FOUND"),
        ] {
            let body = app.gql(user, TEST_CONNECTION, json!({ "id": id })).await;
            assert_eq!(code(&body), expected, "test as {user}: {body}");
            let body = app.gql(user, DELETE_CONNECTION, json!({ "id": id })).await;
            assert_eq!(code(&body), expected, "delete as {user}: {body}");
        }

        let body = app
            .gql(users::ENV_ADMIN, DELETE_CONNECTION, json!({ "id": id }))
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        assert_eq!(body["data"]["deleteWarehouseConnection"]["id"], id.as_str());
        seen.push(body);
        let body = app
            .ok(
                users::ENV_ADMIN,
                ENVIRONMENT_CONNECTION,
                json!({ "key": ENV }),
            )
            .await;
        assert_eq!(body["environment"]["warehouseConnection"], Value::Null);
        let body = app
            .gql(users::ENV_ADMIN, DELETE_CONNECTION, json!({ "id": id }))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "already deleted: {body}");

        // Audited as created and deleted, with whether a password is set but not the password.
        let audit = app.ok(users::ENV_ADMIN, AUDIT, json!({ "key": ENV })).await;
        let entries = &audit["environment"]["auditLogs"];
        assert_eq!(entries["totalCount"], 2, "{audit}");
        let actions: Vec<&str> = entries["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["action"].as_str().expect("action"))
            .collect();
        assert_eq!(actions, ["DELETED", "CREATED"], "newest first");
        let created_entry = &entries["edges"][1]["node"];
        assert_eq!(created_entry["relatedObjectType"], "WAREHOUSE_CONNECTION");
        assert_eq!(created_entry["relatedObjectId"], id.as_str());
        assert_eq!(
            created_entry["changes"]["after"]["passwordSet"], true,
            "{created_entry}"
        );
        // Viewers read the audit log, and the connection names internal hosts: no URL, no user.
        assert_eq!(created_entry["changes"]["after"]["url"], Value::Null);
        assert_eq!(created_entry["changes"]["after"]["user"], Value::Null);
        assert!(
            !created_entry.to_string().contains(warehouse.url.as_str()),
            "{created_entry}"
        );
        seen.push(audit);

        // The schema has no way to read it either.
        let schema = app
            .ok(
                users::ENV_ADMIN,
                "{ __type(name: \"WarehouseConnection\") { fields { name } } }",
                json!({}),
            )
            .await;
        let fields: Vec<&str> = schema["__type"]["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|f| f["name"].as_str().expect("name"))
            .collect();
        assert!(!fields.contains(&"password"), "{fields:?}");
        for body in &seen {
            assert!(
                !body.to_string().contains(PASSWORD),
                "the password leaked: {body}"
            );
        }

        // With the connection gone, the environment can be connected again.
        let body = app
            .gql(
                users::ENV_ADMIN,
                CREATE_CONNECTION,
                json!({ "input": input(ENV, &warehouse) }),
            )
            .await;
        assert_eq!(code(&body), "OK", "{body}");
    }
);
