//! Free text is bounded and names are clean, the same on SQLite (which would store anything) and
//! PostgreSQL (whose `varchar(n)` would fail with an internal error); a field the viewer may not
//! see is `null`, not missing.

use crate::helpers::*;
use lift::admin::{self, AdminCommand};
use serde_json::{json, Value};

const SEARCH: &str = "query($key: String!, $search: String) { environment(key: $key) { metrics(search: $search) { totalCount } } }";
const ACTOR: &str = "query($key: String!, $actor: String) { environment(key: $key) { auditLogs(actor: $actor) { totalCount } } }";

/// Invisible and text-direction characters: zero-width space, non-joiner, joiner, left-to-right
/// and right-to-left marks, embeddings and overrides, isolates, word joiner, byte-order mark.
const HIDDEN: [char; 12] = [
    '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202E}',
    '\u{2066}', '\u{2069}', '\u{2060}', '\u{FEFF}',
];

fn refused_with(body: &Value, expected_field: &str) {
    assert_eq!(code(body), "BAD_USER_INPUT", "{body}");
    assert_eq!(field(body), expected_field, "{body}");
}

db_test!(an_oversized_search_or_actor_filter_is_bad_input, |app| {
    app.world().await;
    app.metric(ENV, "Revenue").await;
    let search = |term: String| {
        app.gql(
            users::ENV_VIEWER,
            SEARCH,
            json!({"key": ENV, "search": term}),
        )
    };
    let body = search("r".repeat(300_000)).await;
    refused_with(&body, "search");
    let body = search("x".repeat(201)).await;
    refused_with(&body, "search");
    let body = search("Revenue".into()).await;
    assert_eq!(
        body["data"]["environment"]["metrics"]["totalCount"], 1,
        "{body}"
    );

    let actor = |email: String| {
        app.gql(
            users::ENV_VIEWER,
            ACTOR,
            json!({"key": ENV, "actor": email}),
        )
    };
    let body = actor(format!("{}@a.test", "a".repeat(315))).await;
    refused_with(&body, "actor");
    let body = actor(users::ORG_ADMIN.into()).await;
    assert_eq!(
        body["data"]["environment"]["auditLogs"]["totalCount"], 1,
        "{body}"
    );
});

db_test!(looking_up_an_oversized_key_or_id_finds_nothing, |app| {
    app.world().await;
    let long = "k".repeat(300_000);
    let body = app
        .gql(
            users::ORG_ADMIN,
            "query($key: String!) { environment(key: $key) { id } }",
            json!({"key": long}),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let body = app
        .gql(
            users::ORG_ADMIN,
            "query($id: ID!) { experiment(id: $id) { id } }",
            json!({"id": long}),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
});

db_test!(
    names_with_invisible_or_text_direction_characters_are_refused,
    |app| {
        let world = app.world().await;
        for c in HIDDEN {
            let name = format!("Reve{c}nue");
            let mut input = metric_input(ENV, &name);
            let body = app
                .gql(
                    users::ORG_ADMIN,
                    CREATE_METRIC,
                    json!({"input": input.clone()}),
                )
                .await;
            refused_with(&body, "name");
            input["name"] = json!("Revenue");
            input["definition"]["event"] = json!(format!("pur{c}chase"));
            let body = app
                .gql(users::ORG_ADMIN, CREATE_METRIC, json!({"input": input}))
                .await;
            refused_with(&body, "definition.event");

            let body = app
            .gql(
                users::ORG_ADMIN,
                CREATE_EXPERIMENT,
                json!({"input": {"environmentKey": ENV, "featureId": world.feature, "name": name}}),
            )
            .await;
            refused_with(&body, "name");

            let refused = admin::run(
                &app.db,
                AdminCommand::CreateEnvironment {
                    project: world.project_a.clone(),
                    name: "hidden".into(),
                    key: format!("ke{c}y"),
                },
            )
            .await
            .expect_err("refused");
            assert!(refused.to_string().contains("key"), "{refused}");
        }
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        let body = app
        .gql(
            users::ORG_ADMIN,
            "mutation($id: ID!, $name: String) { updateExperiment(id: $id, input: {name: $name}) { name } }",
            json!({"id": experiment, "name": "Check\u{202E}tuo"}),
        )
        .await;
        refused_with(&body, "name");
        // Nothing was written.
        let data = app
        .ok(users::ORG_ADMIN, "query { environment(key: \"prod\") { metrics { totalCount } experiments { totalCount } } }", json!({}))
        .await;
        assert_eq!(data["environment"]["metrics"]["totalCount"], 0, "{data}");
        assert_eq!(
            data["environment"]["experiments"]["totalCount"], 1,
            "{data}"
        );
    }
);

db_test!(a_warehouse_user_with_a_hidden_character_is_refused, |app| {
    app.world().await;
    let body = app
        .gql(
            users::ENV_ADMIN,
            "mutation($input: CreateWarehouseConnectionInput!) { createWarehouseConnection(input: $input) { id } }",
            json!({"input": {"environmentKey": ENV, "kind": "CLICKHOUSE", "url": "http://127.0.0.1:9",
                   "user": "rea\u{200B}der"}}),
        )
        .await;
    refused_with(&body, "user");
});

db_test!(
    keys_and_names_longer_than_their_columns_are_refused_on_every_database,
    |app| {
        let world = app.world().await;
        let too_long = [
            AdminCommand::CreateEnvironment {
                project: world.project_a.clone(),
                name: "long key".into(),
                key: "k".repeat(101),
            },
            AdminCommand::CreateEnvironment {
                project: world.project_a.clone(),
                name: "n".repeat(256),
                key: "long-name".into(),
            },
            AdminCommand::CreateFeature {
                project: world.project_a.clone(),
                name: "f".repeat(256),
                variants: "control:1,treatment:1".into(),
            },
            AdminCommand::CreateUser {
                email: format!("{}@a.test", "u".repeat(320)),
                name: "long".into(),
            },
        ];
        for command in too_long {
            let described = format!("{command:?}").chars().take(60).collect::<String>();
            let err = admin::run(&app.db, command).await.expect_err("refused");
            assert!(
                matches!(err, lift::domain::DomainError::Validation { .. }),
                "{described}: {err}"
            );
        }
        // The longest allowed key is accepted, with an accented (multi-byte) character.
        admin::run(
            &app.db,
            AdminCommand::CreateEnvironment {
                project: world.project_a.clone(),
                name: "é".repeat(255),
                key: format!("é{}", "k".repeat(99)),
            },
        )
        .await
        .expect("a 100-character key fits");

        let mut input = metric_input(ENV, &"m".repeat(256));
        let body = app
            .gql(
                users::ORG_ADMIN,
                CREATE_METRIC,
                json!({"input": input.clone()}),
            )
            .await;
        refused_with(&body, "name");
        input["name"] = json!("é".repeat(255));
        let body = app
            .gql(users::ORG_ADMIN, CREATE_METRIC, json!({"input": input}))
            .await;
        assert_eq!(code(&body), "OK", "{body}");
    }
);

db_test!(a_forbidden_nullable_field_is_null_not_missing, |app| {
    app.world().await;
    let body = app
        .gql(
            users::ENV_VIEWER,
            "query { environment(key: \"prod\") { key warehouseConnection { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let environment = body["data"]["environment"]
        .as_object()
        .expect("environment");
    assert_eq!(environment.get("key"), Some(&json!(ENV)), "{body}");
    assert_eq!(
        environment.get("warehouseConnection"),
        Some(&Value::Null),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["path"],
        json!(["environment", "warehouseConnection"]),
        "{body}"
    );
});
