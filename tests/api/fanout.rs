//! One resolution per audit fan-out: subscriptions that would receive the same bytes share a group
//! (`/metrics` counts groups), others get their own shape, access is checked per member, and a
//! member resuming with `after` joins a live group with no gap and no duplicate.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ws::{sequences, Protocol, WsClient, WAIT};

const FULL: &str = "subscription($key: String!, $after: String) { auditLogCreated(environmentKey: $key, after: $after) { id sequence log actor { email } } }";
const LOG_ONLY: &str = "subscription($key: String!, $after: String) { auditLogCreated(environmentKey: $key, after: $after) { log } }";
const MAYBE_CHANGES: &str = "subscription($key: String!, $after: String, $changes: Boolean!) { auditLogCreated(environmentKey: $key, after: $after) { log changes @include(if: $changes) } }";

async fn subscribe(
    client: &mut WsClient,
    protocol: Protocol,
    id: &str,
    query: &str,
    variables: Value,
) {
    let kind = match protocol {
        Protocol::Transport => "subscribe",
        Protocol::Legacy => "start",
    };
    client
        .send(json!({"id": id, "type": kind, "payload": {"query": query, "variables": variables}}))
        .await;
}

/// The next entry message's whole `payload` for subscription `id`.
async fn payload(client: &mut WsClient, id: &str) -> Value {
    loop {
        let message = client.message_within(WAIT).await.expect("an entry");
        if message["type"] == "ka" {
            continue;
        }
        assert!(
            ["next", "data"].contains(&message["type"].as_str().unwrap_or_default()),
            "{message}"
        );
        assert_eq!(message["id"], id, "{message}");
        return message["payload"].clone();
    }
}

async fn gauge(app: &TestApp, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// Polls a gauge until it shows `want` (subscriptions start without acknowledgement).
async fn gauge_reaches(app: &TestApp, name: &str, want: f64) {
    let mut seen = None;
    for _ in 0..100 {
        seen = gauge(app, name).await;
        if seen == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name}: expected {want}, saw {seen:?}");
}

/// The cursor of the environment's newest audit entry.
async fn newest_cursor(app: &TestApp, env: &str) -> String {
    let data = app
        .ok(
            users::ORG_ADMIN,
            "query($key: String!) { environment(key: $key) { auditLogs(first: 1) { edges { node { cursor } } } } }",
            json!({"key": env}),
        )
        .await;
    data["environment"]["auditLogs"]["edges"][0]["node"]["cursor"]
        .as_str()
        .expect("an entry")
        .to_owned()
}

db_test!(
    subscribers_share_a_group_only_when_they_would_receive_the_same_bytes,
    |app| {
        app.world().await;
        app.metric(ENV, "start").await;
        let start = newest_cursor(&app, ENV).await;
        app.metric(ENV, "moved on").await;
        let later = newest_cursor(&app, ENV).await;

        // A viewer and an admin (different grants, the same view of the stream), on different
        // protocols and from different cursors, with the same document: one group.
        let mut viewer =
            WsClient::connect(&app.address, Protocol::Transport, users::ENV_VIEWER).await;
        subscribe(
            &mut viewer,
            Protocol::Transport,
            "v",
            FULL,
            json!({"key": ENV, "after": later}),
        )
        .await;
        let mut admin = WsClient::connect(&app.address, Protocol::Legacy, users::ENV_ADMIN).await;
        subscribe(
            &mut admin,
            Protocol::Legacy,
            "a",
            FULL,
            json!({"key": ENV, "after": start}),
        )
        .await;
        // The admin resumed one entry earlier: it first gets "moved on", alone from the table.
        let replayed = payload(&mut admin, "a").await;
        assert_eq!(
            replayed["data"]["auditLogCreated"]["log"],
            "Metric 'moved on' created"
        );

        // Another selection, and the same document with another variable: groups of their own.
        let mut other =
            WsClient::connect(&app.address, Protocol::Transport, users::ENV_VIEWER).await;
        subscribe(
            &mut other,
            Protocol::Transport,
            "log",
            LOG_ONLY,
            json!({"key": ENV, "after": later}),
        )
        .await;
        subscribe(
            &mut other,
            Protocol::Transport,
            "with",
            MAYBE_CHANGES,
            json!({"key": ENV, "after": later, "changes": true}),
        )
        .await;
        subscribe(
            &mut other,
            Protocol::Transport,
            "without",
            MAYBE_CHANGES,
            json!({"key": ENV, "after": later, "changes": false}),
        )
        .await;
        // A project viewer of the other environment, with the same document: another group.
        let mut staging =
            WsClient::connect(&app.address, Protocol::Transport, users::PROJECT_VIEWER).await;
        subscribe(
            &mut staging,
            Protocol::Transport,
            "s",
            FULL,
            json!({"key": OTHER_ENV, "after": null}),
        )
        .await;

        gauge_reaches(&app, "lift_audit_subscribers", 6.0).await;
        gauge_reaches(&app, "lift_audit_groups", 5.0).await;

        // Someone who may not view the environment asks for the very same stream: refused, and
        // never served by the group.
        let mut outsider =
            WsClient::connect(&app.address, Protocol::Transport, users::OUTSIDER).await;
        subscribe(
            &mut outsider,
            Protocol::Transport,
            "x",
            FULL,
            json!({"key": ENV, "after": later}),
        )
        .await;
        let refused = outsider.message_within(WAIT).await.expect("an answer");
        assert_eq!(
            refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{refused}"
        );
        assert_eq!(
            outsider.message_within(WAIT).await.expect("complete")["type"],
            "complete"
        );

        app.metric(ENV, "shared").await;
        let seen_by_viewer = payload(&mut viewer, "v").await;
        let seen_by_admin = payload(&mut admin, "a").await;
        assert_eq!(seen_by_viewer, seen_by_admin);
        let entry = &seen_by_viewer["data"]["auditLogCreated"];
        assert_eq!(entry["log"], "Metric 'shared' created");
        assert_eq!(entry["actor"]["email"], users::ORG_ADMIN);
        assert!(
            entry["id"].is_string() && entry["sequence"].is_string(),
            "{entry}"
        );

        let mut shapes = std::collections::HashMap::new();
        for _ in 0..3 {
            let message = other.message_within(WAIT).await.expect("an entry");
            assert_eq!(message["type"], "next", "{message}");
            let id = message["id"].as_str().unwrap_or_default().to_owned();
            shapes.insert(id, message["payload"]["data"]["auditLogCreated"].clone());
        }
        assert_eq!(shapes["log"], json!({"log": "Metric 'shared' created"}));
        assert_eq!(shapes["without"], json!({"log": "Metric 'shared' created"}));
        assert_eq!(shapes["with"]["log"], "Metric 'shared' created");
        assert_eq!(
            shapes["with"]["changes"]["after"]["name"], "shared",
            "{}",
            shapes["with"]
        );

        // The other environment's group delivers only its own entries.
        app.metric(OTHER_ENV, "staged").await;
        let staged = payload(&mut staging, "s").await;
        assert_eq!(
            staged["data"]["auditLogCreated"]["log"],
            "Metric 'staged' created"
        );
        for client in [&mut viewer, &mut admin, &mut other, &mut outsider] {
            if let Some(message) = client.message_within(Duration::from_millis(500)).await {
                panic!("nothing else is delivered, got {message}");
            }
        }

        // Completing a member leaves the others running; a group without members ends.
        other.send(json!({"id": "log", "type": "complete"})).await;
        gauge_reaches(&app, "lift_audit_subscribers", 5.0).await;
        gauge_reaches(&app, "lift_audit_groups", 4.0).await;
        staging.close().await;
        gauge_reaches(&app, "lift_audit_groups", 3.0).await;
        app.metric(ENV, "after the others left").await;
        assert_eq!(
            payload(&mut viewer, "v").await["data"]["auditLogCreated"]["log"],
            "Metric 'after the others left' created"
        );
    }
);

db_test!(
    a_member_resuming_while_its_group_is_live_gets_no_gap_and_no_duplicate,
    |app| {
        app.world().await;
        app.metric(ENV, "start").await;
        let start = newest_cursor(&app, ENV).await;
        let mut live =
            WsClient::connect(&app.address, Protocol::Transport, users::ENV_VIEWER).await;
        live.subscribe_audit("live", ENV, Some(&start)).await;

        // Writers keep committing while the second member catches up alone and joins.
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let app = TestApp::handle(app.address.clone(), app.db.clone());
                tokio::spawn(async move {
                    for i in 0..20 {
                        app.metric(ENV, &format!("w{w}-{i}")).await;
                    }
                })
            })
            .collect();
        let first = live.events("live", 10).await;
        let resume_from = first[2]["cursor"].as_str().expect("cursor").to_owned();
        let mut resumed = WsClient::connect(&app.address, Protocol::Legacy, users::ENV_ADMIN).await;
        resumed.subscribe_audit("r", ENV, Some(&resume_from)).await;
        for writer in writers {
            writer.await.expect("writer");
        }

        let rest = live.events("live", 50).await;
        let all: Vec<Value> = first.into_iter().chain(rest).collect();
        let seqs = sequences(&all);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        // Everything after the third entry, each once, in order, then nothing.
        let got = resumed.events("r", 57).await;
        assert_eq!(sequences(&got), seqs[3..].to_vec());
        assert_eq!(got, all[3..].to_vec());
        if let Some(message) = resumed.message_within(Duration::from_millis(700)).await {
            panic!("no duplicate, got {message}");
        }
        // Both ended up in one group.
        gauge_reaches(&app, "lift_audit_groups", 1.0).await;
        gauge_reaches(&app, "lift_audit_subscribers", 2.0).await;
    }
);
