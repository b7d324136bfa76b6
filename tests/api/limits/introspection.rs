//! `LIFT_INTROSPECTION` (always by default, so GraphiQL works for explorers; or authenticated; or
//! never) and `LIFT_FIELD_SUGGESTIONS` (on by default).

use crate::helpers::*;
use lift::configuration::Introspection;
use serde_json::{json, Value};

const SCHEMA: &str = "{ __schema { queryType { name } } }";
const TYPE: &str = "query { ...T } fragment T on QueryRoot { __type(name: \"Viewer\") { name } }";

async fn introspect(app: &TestApp, token: Option<&str>, query: &str) -> Value {
    let header = token.map(|email| format!("Bearer {}", crate::helpers::token(email)));
    app.post(header.as_deref(), query, json!({})).await
}

/// The query GraphiQL sends (graphql-js `getIntrospectionQuery` with every option on).
const GRAPHIQL: &str = include_str!("introspection_query.graphql");

db_test!(anyone_may_introspect_by_default, |app| {
    let body = introspect(&app, None, GRAPHIQL).await;
    assert_eq!(code(&body), "OK", "within every limit: {body}");
    assert!(
        body["data"]["__schema"]["types"]
            .as_array()
            .is_some_and(|t| t.len() > 50),
        "{body}"
    );
    let body = introspect(&app, None, SCHEMA).await;
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"], "QueryRoot",
        "{body}"
    );
    let body = introspect(&app, None, TYPE).await;
    assert_eq!(body["data"]["__type"]["name"], "Viewer", "{body}");
});

db_test_with!(
    only_signed_in_users_may_introspect_when_configured,
    |settings| {
        settings.graphql.introspection = Introspection::Authenticated;
    },
    |app| {
        app.world().await;
        for query in [SCHEMA, TYPE] {
            let body = introspect(&app, None, query).await;
            assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
            assert!(body["data"].is_null(), "{body}");
        }
        let body = introspect(&app, Some(users::OUTSIDER), SCHEMA).await;
        assert_eq!(
            body["data"]["__schema"]["queryType"]["name"], "QueryRoot",
            "{body}"
        );
        // `__typename` is not introspection.
        let body = introspect(&app, None, "{ __typename }").await;
        assert_eq!(body["data"]["__typename"], "QueryRoot", "{body}");
    }
);

db_test_with!(
    nobody_may_introspect_when_it_is_disabled,
    |settings| {
        settings.graphql.introspection = Introspection::Never;
    },
    |app| {
        app.world().await;
        for token in [None, Some(users::ORG_ADMIN)] {
            let body = introspect(&app, token, SCHEMA).await;
            assert_eq!(code(&body), "FORBIDDEN", "{body}");
            assert!(body["data"].is_null(), "{body}");
        }
        let data = app
            .ok(users::ORG_ADMIN, "{ viewer { email } }", json!({}))
            .await;
        assert_eq!(data["viewer"]["email"], users::ORG_ADMIN);
    }
);

fn first_message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

db_test!(validation_errors_suggest_field_names_by_default, |app| {
    let body = app.post(None, "{ viewr { email } }", json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        first_message(&body).contains("Did you mean \"viewer\""),
        "{body}"
    );
});

db_test_with!(
    validation_errors_suggest_nothing_when_suggestions_are_off,
    |settings| {
        settings.graphql.field_suggestions = false;
    },
    |app| {
        let body = app.post(None, "{ viewr { email } }", json!({})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        let message = first_message(&body);
        assert!(message.contains("viewr"), "{body}");
        assert!(!message.contains("Did you mean"), "{body}");
    }
);
