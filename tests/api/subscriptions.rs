//! The live audit stream through real WebSocket clients, on both databases and both protocols:
//! order, exactly-once, resume with `after`, permissions, isolation, failed mutations, auth errors
//! and keepalive.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ws::{sequences, Frame, Init, Protocol, WsClient};

/// How long a test listens to be sure that nothing (more) arrives.
const QUIET: Duration = Duration::from_millis(700);

async fn expect_silence(client: &mut WsClient) {
    if let Some(message) = client.message_within(QUIET).await {
        panic!("expected no further message, got {message}");
    }
}

/// The environment's audit entries through the list API, oldest first.
async fn listed(app: &TestApp, env: &str) -> Vec<Value> {
    let data = app
        .ok(
            users::ORG_ADMIN,
            "query($key: String!) { environment(key: $key) { auditLogs(first: 100) { edges { node { id sequence log } } } } }",
            json!({"key": env}),
        )
        .await;
    let mut nodes: Vec<Value> = data["environment"]["auditLogs"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    nodes.reverse();
    nodes
}

/// The cursor of the environment's newest audit entry (as a client resuming would hold it).
async fn latest_cursor(app: &TestApp, env: &str) -> String {
    let data = app
        .ok(
            users::ORG_ADMIN,
            "query($key: String!) { environment(key: $key) { auditLogs(first: 1) { edges { node { cursor } } } } }",
            json!({"key": env}),
        )
        .await;
    data["environment"]["auditLogs"]["edges"][0]["node"]["cursor"]
        .as_str()
        .expect("an audit entry to resume from")
        .to_owned()
}

/// Subscribes `user` to `env` from its newest entry on: a subscription without `after` starts when
/// the server has processed it, which no protocol acknowledges, so gapless tests resume instead.
async fn subscribe_from_now(
    app: &TestApp,
    protocol: Protocol,
    user: &str,
    env: &str,
    id: &str,
) -> WsClient {
    app.metric(env, &format!("before {id}")).await;
    let cursor = latest_cursor(app, env).await;
    let mut client = WsClient::connect(&app.address, protocol, user).await;
    client.subscribe_audit(id, env, Some(&cursor)).await;
    client
}

/// Ten mutations of every kind; returns the audit lines they should produce, in order.
async fn ten_mutations(app: &TestApp, world: &World) -> Vec<String> {
    let metric = app.metric(ENV, "Revenue").await;
    let other = app.metric(ENV, "Clicks").await;
    let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
    app.ok(
        users::ORG_ADMIN,
        "mutation($id: ID!) { updateExperiment(id: $id, input: {name: \"Checkout v2\"}) { id } }",
        json!({"id": experiment}),
    )
    .await;
    let attachment = app.attach(&experiment, &metric).await;
    app.ok(
        users::ORG_ADMIN,
        "mutation($id: ID!) { updateExperimentMetric(id: $id, input: {role: GUARDRAIL}) { id } }",
        json!({"id": attachment}),
    )
    .await;
    assert_eq!(
        code(&app.lifecycle("startExperiment", &experiment).await),
        "OK"
    );
    assert_eq!(
        code(&app.lifecycle("pauseExperiment", &experiment).await),
        "OK"
    );
    app.ok(
        users::ORG_ADMIN,
        "mutation($id: ID!) { detachMetric(id: $id) { id } }",
        json!({"id": attachment}),
    )
    .await;
    app.ok(
        users::ORG_ADMIN,
        "mutation($id: ID!) { deleteMetric(id: $id) { id } }",
        json!({"id": other}),
    )
    .await;
    [
        "Metric 'Revenue' created",
        "Metric 'Clicks' created",
        "Experiment 'Checkout' created",
        "Experiment 'Checkout v2' updated",
        "Metric 'Revenue' attached to experiment 'Checkout v2'",
        "Metric 'Revenue' on experiment 'Checkout v2' updated",
        "Experiment 'Checkout v2' started",
        "Experiment 'Checkout v2' paused",
        "Metric 'Revenue' detached from experiment 'Checkout v2'",
        "Metric 'Clicks' deleted",
    ]
    .map(String::from)
    .to_vec()
}

async fn every_mutation_arrives_once_in_commit_order(app: TestApp, protocol: Protocol) {
    let world = app.world().await;
    let mut viewer = subscribe_from_now(&app, protocol, users::ENV_VIEWER, ENV, "a").await;
    let expected = ten_mutations(&app, &world).await;
    let events = viewer.events("a", expected.len()).await;
    let logs: Vec<&str> = events
        .iter()
        .map(|e| e["log"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(logs, expected);
    let seqs = sequences(&events);
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing: {seqs:?}"
    );
    assert!(events
        .iter()
        .all(|e| e["actor"]["email"] == users::ORG_ADMIN));
    expect_silence(&mut viewer).await;

    // What was streamed is exactly what was stored after the starting point.
    let stored = listed(&app, ENV).await;
    let stored_ids: Vec<&Value> = stored.iter().skip(1).map(|n| &n["id"]).collect();
    let streamed_ids: Vec<&Value> = events.iter().map(|e| &e["id"]).collect();
    assert_eq!(streamed_ids, stored_ids);
    viewer.close().await;
}

db_test!(
    subscribers_receive_every_mutation_once_in_commit_order,
    |app| {
        every_mutation_arrives_once_in_commit_order(app, Protocol::Transport).await;
    }
);

db_test!(
    the_legacy_graphql_ws_protocol_delivers_the_same_stream,
    |app| {
        every_mutation_arrives_once_in_commit_order(app, Protocol::Legacy).await;
    }
);

db_test_with!(
    on_the_request_runtime_alone_the_stream_is_the_same,
    |settings| {
        // No subscription runtime: writers and groups share the request runtime.
        settings.server.ws_threads = 0;
    },
    |app| {
        every_mutation_arrives_once_in_commit_order(app, Protocol::Transport).await;
    }
);

db_test!(
    resuming_with_after_replays_the_gap_then_goes_live_without_duplicates,
    |app| {
        app.world().await;
        let mut first =
            subscribe_from_now(&app, Protocol::Transport, users::ENV_VIEWER, ENV, "s").await;
        for i in 0..=3 {
            app.metric(ENV, &format!("m{i}")).await;
        }
        let seen = first.events("s", 4).await;
        let cursor = seen[1]["cursor"].as_str().expect("cursor").to_owned();
        first.close().await;

        // While disconnected, and while reconnecting, mutations keep coming.
        for i in 4..=8 {
            app.metric(ENV, &format!("m{i}")).await;
        }
        let writer = {
            let address = app.address.clone();
            let db = app.db.clone();
            tokio::spawn(async move {
                let app = TestApp::handle(address, db);
                for i in 9..=20 {
                    app.metric(ENV, &format!("m{i}")).await;
                }
            })
        };
        let mut resumed =
            WsClient::connect(&app.address, Protocol::Transport, users::ENV_VIEWER).await;
        resumed.subscribe_audit("r", ENV, Some(&cursor)).await;
        // After the cursor (m1): m2..=m20 = 19 events, each exactly once, in order.
        let events = resumed.events("r", 19).await;
        writer.await.expect("writer");
        let logs: Vec<String> = events
            .iter()
            .map(|e| e["log"].as_str().unwrap_or_default().to_owned())
            .collect();
        let expected: Vec<String> = (2..=20).map(|i| format!("Metric 'm{i}' created")).collect();
        assert_eq!(logs, expected);
        let seqs = sequences(&events);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        expect_silence(&mut resumed).await;
    }
);

db_test!(
    viewers_subscribe_outsiders_cannot_and_other_environments_never_leak,
    |app| {
        app.world().await;
        for outsider in [users::OUTSIDER, users::OTHER_ORG_ADMIN, users::ORG_USER] {
            let mut client = WsClient::connect(&app.address, Protocol::Transport, outsider).await;
            client.subscribe_audit("x", ENV, None).await;
            // An execution error: graphql-transport-ws carries it in `next` with `errors`, then completes.
            let message = client
                .message_within(crate::ws::WAIT)
                .await
                .expect("an answer");
            assert_eq!(message["type"], "next", "{outsider}: {message}");
            assert!(
                message["payload"]["data"].is_null(),
                "{outsider}: {message}"
            );
            assert_eq!(
                message["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
                "{outsider}: {message}"
            );
            let done = client
                .message_within(crate::ws::WAIT)
                .await
                .expect("complete");
            assert_eq!(done["type"], "complete", "{outsider}: {done}");
        }
        let mut viewer =
            subscribe_from_now(&app, Protocol::Transport, users::ENV_VIEWER, ENV, "v").await;
        let mut staging = subscribe_from_now(
            &app,
            Protocol::Transport,
            users::PROJECT_VIEWER,
            OTHER_ENV,
            "s",
        )
        .await;

        for i in 0..3 {
            app.metric(OTHER_ENV, &format!("staging {i}")).await;
        }
        app.metric(ENV, "prod").await;
        assert_eq!(viewer.event("v").await["log"], "Metric 'prod' created");
        expect_silence(&mut viewer).await;
        let staged = staging.events("s", 3).await;
        assert!(staged
            .iter()
            .all(|e| e["log"].as_str().unwrap_or_default().contains("staging")));
    }
);

db_test!(
    a_failed_mutation_writes_no_audit_row_and_sends_no_event,
    |app| {
        app.world().await;
        let mut viewer =
            subscribe_from_now(&app, Protocol::Transport, users::ENV_VIEWER, ENV, "f").await;
        app.metric(ENV, "first").await;
        assert_eq!(viewer.event("f").await["log"], "Metric 'first' created");

        let mut bad = metric_input(ENV, "bad");
        bad["definition"]["event"] = json!("");
        let refused = [
            (users::ORG_ADMIN, bad, "BAD_USER_INPUT"),
            (
                users::ENV_VIEWER,
                metric_input(ENV, "forbidden"),
                "FORBIDDEN",
            ),
            (users::ORG_ADMIN, metric_input(ENV, "first"), "CONFLICT"),
            (users::OUTSIDER, metric_input(ENV, "outsider"), "NOT_FOUND"),
        ];
        for (user, input, expected) in refused {
            let body = app.gql(user, CREATE_METRIC, json!({"input": input})).await;
            assert_eq!(code(&body), expected, "{body}");
        }
        let metric = app.metric(ENV, "second").await;
        let body = app
            .gql(
                users::ORG_ADMIN,
                "mutation($id: ID!) { pauseExperiment(id: $id) { id } }",
                json!({"id": metric}),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");

        assert_eq!(viewer.event("f").await["log"], "Metric 'second' created");
        expect_silence(&mut viewer).await;
        let logs: Vec<Value> = listed(&app, ENV)
            .await
            .into_iter()
            .map(|n| n["log"].clone())
            .collect();
        assert_eq!(
            logs,
            vec![
                json!("Metric 'before f' created"),
                json!("Metric 'first' created"),
                json!("Metric 'second' created")
            ]
        );
    }
);

db_test!(
    bad_tokens_end_the_connection_with_each_protocols_auth_error,
    |app| {
        app.world().await;
        let now = jsonwebtoken::get_current_timestamp();
        let expired = sign(
            &json!({"sub": users::ENV_VIEWER, "exp": now - 3600}),
            TEST_SECRET.as_bytes(),
        );
        let cases = [
            json!({}),
            json!({"Authorization": "Bearer not-a-token"}),
            json!({"authorization": format!("Bearer {expired}")}),
            json!({"token": sign(&json!({"sub": "ghost@nowhere.test", "exp": now + 60}), TEST_SECRET.as_bytes())}),
        ];
        for payload in cases {
            match WsClient::init(&app.address, Protocol::Transport, payload.clone()).await {
                Init::Closed(code, reason) => {
                    assert_eq!(code, 4403, "{payload}: {reason}");
                    assert!(reason.starts_with("Forbidden"), "{reason}");
                }
                other => panic!("{payload}: expected close 4403, got {other:?}"),
            }
            match WsClient::init(&app.address, Protocol::Legacy, payload.clone()).await {
                Init::Error(error) => assert!(error["message"].is_string(), "{error}"),
                other => panic!("{payload}: expected connection_error, got {other:?}"),
            }
        }
        // Every accepted key works.
        for key in ["Authorization", "authorization", "token"] {
            let payload = json!({key: format!("Bearer {}", token(users::ENV_VIEWER))});
            assert!(
                matches!(
                    WsClient::init(&app.address, Protocol::Transport, payload).await,
                    Init::Acked(_)
                ),
                "{key}"
            );
        }
        let bare = json!({"token": token(users::ENV_VIEWER)});
        assert!(matches!(
            WsClient::init(&app.address, Protocol::Legacy, bare).await,
            Init::Acked(_)
        ));
    }
);

db_test_with!(
    idle_connections_receive_keepalive_pings,
    |settings| {
        settings.server.ws_keepalive_seconds = 1;
    },
    |app| {
        app.world().await;
        for protocol in [Protocol::Transport, Protocol::Legacy] {
            let mut client = WsClient::connect(&app.address, protocol, users::ENV_VIEWER).await;
            let mut pings = 0;
            let mut kas = 0;
            while pings < 2 {
                match client.frame_within(Duration::from_secs(5)).await {
                    Some(Frame::Ping) => pings += 1,
                    Some(Frame::Json(m)) if m["type"] == "ka" => kas += 1,
                    other => panic!("{protocol:?}: expected a keepalive, got {other:?}"),
                }
            }
            if protocol == Protocol::Legacy {
                assert!(kas >= 1, "legacy clients also get `ka` messages");
            }
        }
    }
);

db_test_with!(
    a_slow_subscriber_blocks_no_one_and_catches_up_from_the_table,
    |settings| {
        // A tiny buffer, so the slow subscriber is sure to fall behind it.
        settings.server.audit_buffer = 2;
    },
    |app| {
        app.world().await;
        let mut slow =
            subscribe_from_now(&app, Protocol::Transport, users::ENV_VIEWER, ENV, "slow").await;
        let mut brisk =
            subscribe_from_now(&app, Protocol::Legacy, users::ENV_ADMIN, ENV, "brisk").await;
        // `slow` reads nothing while 8 concurrent writers commit 640 mutations whose entries are large
        // (a 10,000-character description): ~6.4 MB, beyond what the server's per-connection queue
        // and the socket buffers can absorb (Linux lets a socket's send buffer grow to 4 MB by
        // default, `tcp_wmem`). The writers all finish.
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let app = TestApp::handle(app.address.clone(), app.db.clone());
                tokio::spawn(async move {
                    for i in 0..80 {
                        let mut input = metric_input(ENV, &format!("w{w}-{i}"));
                        input["description"] = json!("x".repeat(10_000));
                        app.ok(users::ORG_ADMIN, CREATE_METRIC, json!({"input": input}))
                            .await;
                    }
                })
            })
            .collect();
        for writer in writers {
            writer
                .await
                .expect("writers are never blocked by a subscriber");
        }
        // The other subscriber got everything, and so does the slow one once it reads: every entry
        // after its start (brisk's "before" marker, then the 640), once and in order.
        let brisk_events = brisk.events("brisk", 640).await;
        let slow_events = slow.events("slow", 641).await;
        assert_eq!(slow_events[0]["log"], "Metric 'before brisk' created");
        assert_eq!(sequences(&slow_events[1..]), sequences(&brisk_events));
        let seqs = sequences(&slow_events);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        expect_silence(&mut slow).await;
        // And it really did fall behind: the catch-up path ran.
        let metrics = reqwest::get(format!("{}/metrics", app.address))
            .await
            .expect("metrics");
        let text = metrics.text().await.expect("text");
        let catch_ups: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("lift_audit_catch_ups_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("catch-up counter");
        assert!(catch_ups > 0, "{text}");
    }
);
