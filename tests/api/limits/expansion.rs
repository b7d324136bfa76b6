//! Fragment bombs and alias floods: refused with `BAD_USER_INPUT` in well under a second, without
//! a token, while ordinary fragments keep working.

use std::time::{Duration, Instant};

use crate::helpers::*;
use serde_json::json;

/// `<operation> { <prefix> ...F<levels> <suffix> }` where F0 selects `field` and each F<i> spreads
/// F<i-1> twice: 2^levels selections once inlined, a kilobyte of text.
fn doubling_fragments(levels: usize, on: &str, field: &str, wrap: (&str, &str)) -> String {
    let mut query = format!(
        "query {{ {} ...F{levels} {} }} fragment F0 on {on} {{ {field} }} ",
        wrap.0, wrap.1
    );
    for i in 1..=levels {
        query.push_str(&format!(
            "fragment F{i} on {on} {{ ...F{prev} ...F{prev} }} ",
            prev = i - 1
        ));
    }
    query
}

/// A generous bound: the refusal takes milliseconds; expanding took minutes.
const PROMPTLY: Duration = Duration::from_secs(2);

db_test!(
    an_exponential_fragment_document_is_refused_promptly_without_a_token,
    |app| {
        let bomb = doubling_fragments(24, "QueryRoot", "__typename", ("", ""));
        assert!(bomb.len() < 1_500, "a small document: {} bytes", bomb.len());
        let started = Instant::now();
        let body = app.post(None, &bomb, json!({})).await;
        let took = started.elapsed();
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert!(body["data"].is_null(), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("selections"), "{message}");
        assert!(took < PROMPTLY, "took {took:?}");
        // The server is still answering.
        let body = app.post(None, "{ __typename }", json!({})).await;
        assert_eq!(body["data"]["__typename"], "QueryRoot", "{body}");
    }
);

db_test!(
    an_exponential_fragment_document_under_viewer_is_refused_promptly,
    |app| {
        app.world().await;
        let bomb = doubling_fragments(30, "Viewer", "email", ("viewer {", "}"));
        let started = Instant::now();
        let body = app.gql(users::ENV_VIEWER, &bomb, json!({})).await;
        let took = started.elapsed();
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert!(took < PROMPTLY, "took {took:?}");
    }
);

db_test!(fragments_that_are_never_spread_are_measured_too, |app| {
    // The validator walks every fragment definition expanded, used or not.
    let bomb = doubling_fragments(24, "QueryRoot", "__typename", ("", "")).replacen(
        "...F24",
        "__typename",
        1,
    );
    let started = Instant::now();
    let body = app.post(None, &bomb, json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(started.elapsed() < PROMPTLY);
});

db_test!(twenty_thousand_aliases_of_one_field_are_refused, |app| {
    let fields: String = (0..20_000).map(|i| format!("a{i}: __typename ")).collect();
    let body = app.post(None, &format!("{{ {fields} }}"), json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(body["data"].is_null(), "{body}");
});

db_test!(queries_with_ordinary_fragments_still_work, |app| {
    app.world().await;
    let query = "query { viewer { ...Who environments { ...Env } } } \
                 fragment Who on Viewer { email name } \
                 fragment Env on Environment { key ... on Environment { name } }";
    let data = app.ok(users::ENV_VIEWER, query, json!({})).await;
    assert_eq!(data["viewer"]["email"], users::ENV_VIEWER, "{data}");
    let keys: Vec<&str> = data["viewer"]["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .filter_map(|env| env["key"].as_str())
        .collect();
    assert_eq!(keys, [ENV], "{data}");
});

db_test!(
    a_fragment_cycle_is_refused_by_validation_without_hanging,
    |app| {
        let started = Instant::now();
        let body = app
            .post(
                None,
                "query { ...A } fragment A on QueryRoot { __typename ...B ...B } \
             fragment B on QueryRoot { ...A ...A }",
                json!({}),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert!(started.elapsed() < PROMPTLY);
    }
);

db_test!(
    an_exponential_subscription_document_is_refused_over_websocket,
    |app| {
        use crate::ws::{Protocol, WsClient};
        app.world().await;
        let mut client =
            WsClient::connect(&app.address, Protocol::Transport, users::ENV_VIEWER).await;
        let bomb = doubling_fragments(
            24,
            "SubscriptionRoot",
            "auditLogCreated(environmentKey: \"prod\") { id }",
            ("", ""),
        )
        .replacen("query", "subscription", 1);
        let started = Instant::now();
        client
            .send(json!({"id": "bomb", "type": "subscribe", "payload": {"query": bomb}}))
            .await;
        let message = client
            .message_within(PROMPTLY)
            .await
            .expect("an answer in time");
        assert_eq!(message["id"], "bomb", "{message}");
        // async-graphql sends errors found before execution as a `next` with `errors`; an
        // `error` message would carry them as its payload.
        let error = match message["type"].as_str() {
            Some("error") => &message["payload"][0],
            _ => &message["payload"]["errors"][0],
        };
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{message}");
        assert!(started.elapsed() < PROMPTLY);
        client.close().await;
    }
);
