//! Two server processes on one PostgreSQL: a mutation through process A reaches a subscriber on
//! process B (LISTEN/NOTIFY wakes B's tail, which reads the row from the shared table).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;
use crate::ws::{Protocol, WsClient};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(database_url: &str) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_lift"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("LIFT_DATABASE_URL", database_url)
            .env("LIFT_JWT_SECRET", TEST_SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lift serve"),
    );
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{address}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return (server, address);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("lift serve on {address} did not become healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_on_one_process_reaches_a_subscriber_on_another() {
    let url = fresh_database(Backend::Postgres).await;
    let seeded = spawn_app_with(settings(&url)).await;
    seeded.world().await;
    seeded.metric(ENV, "seed").await;
    let (_a, address_a) = start(&url).await;
    let (_b, address_b) = start(&url).await;
    let a = TestApp::handle(address_a, seeded.db.clone());

    let cursor = a
        .ok(
            users::ENV_VIEWER,
            "{ environment(key: \"prod\") { auditLogs(first: 1) { edges { node { cursor } } } } }",
            json!({}),
        )
        .await["environment"]["auditLogs"]["edges"][0]["node"]["cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let mut on_b = WsClient::connect(&address_b, Protocol::Transport, users::ENV_VIEWER).await;
    on_b.subscribe_audit("b", ENV, Some(&cursor)).await;
    for i in 0..5 {
        a.metric(ENV, &format!("from A {i}")).await;
    }
    let events = on_b.events("b", 5).await;
    let logs: Vec<&str> = events
        .iter()
        .map(|e| e["log"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        logs,
        (0..5)
            .map(|i| format!("Metric 'from A {i}' created"))
            .collect::<Vec<_>>()
    );
}
