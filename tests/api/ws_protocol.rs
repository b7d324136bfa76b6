//! The graphql-transport-ws rules lift enforces around async-graphql, and how a socket ends when
//! its token expires or cannot be checked: each close code as the protocol (or README) says.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ws::*;

const SUBSCRIBE_AUDIT: &str = "subscription($key: String!, $after: String) { auditLogCreated(environmentKey: $key, after: $after) { log } }";

/// `subscribe` to the audit stream of `ENV` after `cursor`: a subscription without `after` starts
/// when the server has processed it, which no protocol acknowledges, so tests resume instead.
fn subscribe(id: &str, cursor: &str) -> Value {
    json!({"id": id, "type": "subscribe", "payload": {"query": SUBSCRIBE_AUDIT, "variables": {"key": ENV, "after": cursor}}})
}

/// Creates an entry in `ENV`'s audit log and returns its cursor.
async fn fresh_cursor(app: &TestApp) -> String {
    app.metric(ENV, &format!("cursor {}", uuid::Uuid::now_v7()))
        .await;
    let data = app
        .ok(
            users::ORG_ADMIN,
            "query($key: String!) { environment(key: $key) { auditLogs(first: 1) { nodes { cursor } } } }",
            json!({"key": ENV}),
        )
        .await;
    data["environment"]["auditLogs"]["nodes"][0]["cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned()
}

/// The next message that is not a keepalive or a `complete`.
async fn next_message(client: &mut WsClient) -> Value {
    loop {
        let message = client
            .message_within(WAIT)
            .await
            .expect("a message in time");
        if message["type"] != "complete" {
            return message;
        }
    }
}

/// The ids of the next `n` subscription events, sorted.
async fn event_ids(client: &mut WsClient, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let message = next_message(client).await;
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"].get("errors").is_none(), "{message}");
        ids.push(message["id"].as_str().unwrap_or_default().to_owned());
    }
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_sends_no_connection_init_is_closed_4408_after_the_init_timeout() {
    let url = fresh_database(Backend::Sqlite).await;
    let mut settings = settings(&url);
    settings.server.ws_init_timeout_seconds = 1;
    let app = spawn_app_with(settings).await;
    for protocol in [Protocol::Transport, Protocol::Legacy] {
        let opened = Instant::now();
        let mut client = WsClient::open(&app.address, protocol).await;
        let (code, reason) = client.closed().await;
        assert_eq!(
            (code, reason.as_str()),
            (4408, "Connection initialisation timeout"),
            "{protocol:?}"
        );
        assert!(
            opened.elapsed() >= Duration::from_millis(900),
            "{protocol:?}: closed after {:?}, before the timeout",
            opened.elapsed()
        );
    }
}

db_test!(
    messages_the_protocol_does_not_have_close_the_socket_4400,
    |app| {
        app.world().await;
        let cases = [
            (Protocol::Transport, json!({"type": "bogus"}).to_string()),
            (Protocol::Transport, "not JSON".to_owned()),
            (
                Protocol::Transport,
                json!({"type": "subscribe", "id": 1}).to_string(),
            ),
            (
                Protocol::Transport,
                json!({"type": "start", "id": "1", "payload": {"query": SUBSCRIBE_AUDIT}})
                    .to_string(),
            ),
            (
                Protocol::Legacy,
                json!({"type": "subscribe", "id": "1", "payload": {"query": SUBSCRIBE_AUDIT}})
                    .to_string(),
            ),
        ];
        for (protocol, text) in cases {
            let mut client = WsClient::connect(&app.address, protocol, users::ENV_VIEWER).await;
            client.send_text(&text).await;
            let (code, reason) = client.closed().await;
            assert_eq!(code, 4400, "{protocol:?} {text}: {reason}");
            assert!(reason.starts_with("Invalid message received"), "{reason}");
        }
    }
);

db_test!(
    a_subscribe_before_connection_init_closes_the_socket_4401,
    |app| {
        app.world().await;
        let mut client = WsClient::open(&app.address, Protocol::Transport).await;
        client.send(subscribe("1", "")).await;
        assert_eq!(client.closed().await, (4401, "Unauthorized".to_owned()));
    }
);

db_test!(
    a_subscribe_with_the_id_of_a_running_subscription_closes_the_socket_4409_but_a_completed_id_can_be_reused,
    |app| {
        app.world().await;
        let cursor = fresh_cursor(&app).await;
        let mut client =
            WsClient::connect(&app.address, Protocol::Transport, users::ENV_VIEWER).await;
        client.send(subscribe("a", &cursor)).await;
        client.send(subscribe("b", &cursor)).await;
        client.send(json!({"id": "b", "type": "complete"})).await;
        client.send(subscribe("b", &cursor)).await;
        app.metric(ENV, "Seen by a and b").await;
        assert_eq!(event_ids(&mut client, 2).await, ["a", "b"]);

        client.send(subscribe("a", &cursor)).await;
        assert_eq!(
            client.closed().await,
            (4409, "Subscriber for a already exists".to_owned())
        );
    }
);

db_test_with!(
    a_subscription_beyond_the_cap_gets_an_error_for_its_id_and_the_others_keep_running,
    |settings| {
        settings.server.ws_max_subscriptions = 2;
    },
    |app| {
        app.world().await;
        for protocol in [Protocol::Transport, Protocol::Legacy] {
            let (start, stop) = match protocol {
                Protocol::Transport => ("subscribe", "complete"),
                Protocol::Legacy => ("start", "stop"),
            };
            let cursor = fresh_cursor(&app).await;
            let subscribe = |id: &str, cursor: &str| {
                let mut message = subscribe(id, cursor);
                message["type"] = start.into();
                message
            };
            let mut client = WsClient::connect(&app.address, protocol, users::ENV_VIEWER).await;
            for id in ["a", "b", "c"] {
                client.send(subscribe(id, &cursor)).await;
            }
            let refused = next_message(&mut client).await;
            assert_eq!(refused["id"], "c", "{protocol:?}: {refused}");
            assert_eq!(refused["type"], "error", "{protocol:?}: {refused}");
            let error = match protocol {
                Protocol::Transport => &refused["payload"][0],
                Protocol::Legacy => &refused["payload"],
            };
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
            assert!(
                error["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("at most 2"),
                "{refused}"
            );

            let data = match protocol {
                Protocol::Transport => "next",
                Protocol::Legacy => "data",
            };
            let ids = |messages: Vec<Value>| {
                let mut ids: Vec<String> = messages
                    .iter()
                    .map(|m| {
                        assert_eq!(m["type"], data, "{m}");
                        m["id"].as_str().unwrap_or_default().to_owned()
                    })
                    .collect();
                ids.sort();
                ids
            };
            app.metric(ENV, &format!("{protocol:?} while a and b run"))
                .await;
            let first = vec![
                next_message(&mut client).await,
                next_message(&mut client).await,
            ];
            assert_eq!(ids(first), ["a", "b"], "{protocol:?}");

            // Resumed after the entry both have seen, `c` receives only what follows.
            let cursor = fresh_cursor(&app).await;
            let seen = vec![
                next_message(&mut client).await,
                next_message(&mut client).await,
            ];
            assert_eq!(ids(seen), ["a", "b"], "{protocol:?}");
            client.send(json!({"id": "a", "type": stop})).await;
            client.send(subscribe("c", &cursor)).await;
            app.metric(ENV, &format!("{protocol:?} while b and c run"))
                .await;
            let second = vec![
                next_message(&mut client).await,
                next_message(&mut client).await,
            ];
            assert_eq!(ids(second), ["b", "c"], "{protocol:?}");
            client.close().await;
        }
    }
);

db_test!(
    a_live_subscription_ends_with_4401_when_its_token_expires,
    |app| {
        app.world().await;
        let cursor = fresh_cursor(&app).await;
        // `exp` 55 s ago is still accepted for the 60 s leeway: the token expires in about 5 s.
        let now = jsonwebtoken::get_current_timestamp();
        let expiring = sign(
            &json!({"sub": users::ENV_VIEWER, "exp": now - 55}),
            TEST_SECRET.as_bytes(),
        );
        let payload = json!({"Authorization": format!("Bearer {expiring}")});
        let mut client = match WsClient::init(&app.address, Protocol::Transport, payload).await {
            Init::Acked(client) => *client,
            other => panic!("a token within the leeway is accepted: {other:?}"),
        };
        client.send(subscribe("live", &cursor)).await;
        app.metric(ENV, "Before the token expires").await;
        assert_eq!(event_ids(&mut client, 1).await, ["live"]);
        let (code, reason) = client.closed().await;
        assert_eq!(code, 4401, "{reason}");
        assert!(reason.contains("expired"), "{reason}");
    }
);

db_test!(
    a_token_that_cannot_be_checked_closes_the_socket_1011_not_4403_and_http_answers_a_coded_error,
    |app| {
        use sea_orm::ConnectionTrait;
        app.world().await;
        let token = token(users::ENV_VIEWER);
        app.db
            .execute_unprepared("ALTER TABLE users RENAME TO users_gone")
            .await
            .expect("rename the users table");

        let payload = json!({"Authorization": format!("Bearer {token}")});
        match WsClient::init(&app.address, Protocol::Transport, payload.clone()).await {
            Init::Closed(code, reason) => {
                assert_eq!(code, 1011, "{reason}");
                assert!(
                    !reason.contains("users"),
                    "the reason names no table: {reason}"
                );
            }
            other => panic!("expected close 1011, got {other:?}"),
        }
        match WsClient::init(&app.address, Protocol::Legacy, payload).await {
            Init::Error(error) => assert!(error["message"].is_string(), "{error}"),
            other => panic!("expected connection_error, got {other:?}"),
        }

        let response = reqwest::Client::new()
            .post(format!("{}/graphql", app.address))
            .header("authorization", format!("Bearer {token}"))
            .json(&json!({"query": "{ viewer { email } }"}))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 500);
        let body: Value = response.json().await.expect("JSON body");
        assert_eq!(code(&body), "INTERNAL", "{body}");
    }
);
