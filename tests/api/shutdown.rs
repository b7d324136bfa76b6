//! Stopping the server for real: `run_until_stopped` stops accepting, closes live WebSockets with
//! 1001, ends the audit tails (and the PostgreSQL listener) and returns once they all ended.

use std::time::Duration;

use lift::startup::Application;

use crate::helpers::*;
use crate::ws::{Frame, Protocol, WsClient};

/// How long shutdown may take with a live subscription and nothing else in flight.
const STOP_WITHIN: Duration = Duration::from_secs(10);

async fn stopping_ends_live_subscriptions_and_every_server_task(backend: Backend) {
    let url = fresh_database(backend).await;
    let server = Application::build(&settings(&url))
        .await
        .expect("app builds");
    let address = format!("http://{}", server.local_addr().expect("bound"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let db = lift::db::connect(&url).await.expect("test db connection");
    let app = TestApp::handle(address.clone(), db);
    app.world().await;

    let mut client = WsClient::connect(&address, Protocol::Transport, users::ORG_ADMIN).await;
    client.subscribe_audit("live", ENV, None).await;
    // Proven live: the next entry arrives through it (retrying, since the subscription's start
    // is not acknowledged by the protocol).
    let mut delivered = false;
    for attempt in 0..20 {
        app.metric(ENV, &format!("Metric {attempt}")).await;
        if client
            .message_within(Duration::from_millis(500))
            .await
            .is_some()
        {
            delivered = true;
            break;
        }
    }
    assert!(delivered, "the subscription never delivered");

    stop.send(()).expect("server running");
    let closed = loop {
        match client.frame_within(STOP_WITHIN).await {
            Some(Frame::Closed(code, _)) => break Some(code),
            Some(_) => continue,
            None => break None,
        }
    };
    assert_eq!(
        closed,
        Some(1001),
        "the socket was not closed as going away"
    );
    let result = tokio::time::timeout(STOP_WITHIN, running)
        .await
        .expect("run_until_stopped returned in time")
        .expect("no panic");
    assert!(result.is_ok(), "{result:?}");
    let refused = tokio::net::TcpStream::connect(address.trim_start_matches("http://")).await;
    assert!(refused.is_err(), "still accepting after it stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_live_subscriptions_and_every_server_task_on_sqlite() {
    stopping_ends_live_subscriptions_and_every_server_task(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_live_subscriptions_and_every_server_task_on_postgres() {
    stopping_ends_live_subscriptions_and_every_server_task(Backend::Postgres).await;
}
