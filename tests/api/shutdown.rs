//! Stopping the server for real: `run_until_stopped` stops accepting, closes live WebSockets with
//! 1001, ends the audit tails (and the PostgreSQL listener) and returns once they all ended — at
//! once when the client completes the close, after the shutdown grace when it never answers.

use std::time::{Duration, Instant};

use lift::startup::Application;

use crate::helpers::*;
use crate::ws::{Frame, Protocol, WsClient};

/// How long a shutdown may take beyond the grace it needs.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// The client either completes the WebSocket close (as clients should) or never answers it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    Answers,
    Silent,
}

async fn stop_with_a_live_subscription(backend: Backend, peer: Peer) {
    let url = fresh_database(backend).await;
    let mut settings = settings(&url);
    // A client that completes the close must not need the grace: make it far longer than the bound.
    settings.server.shutdown_grace_seconds = match peer {
        Peer::Answers => 60,
        Peer::Silent => 1,
    };
    let server = Application::build(&settings).await.expect("app builds");
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
    assert!(
        client.delivers_while_writing(&app, ENV).await,
        "the subscription never delivered"
    );

    stop.send(()).expect("server running");
    let stopping = Instant::now();
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
    let bound = match peer {
        Peer::Answers => {
            client.close().await;
            STOP_WITHIN
        }
        Peer::Silent => Duration::from_secs(1) + STOP_WITHIN,
    };
    let result = tokio::time::timeout(bound, running)
        .await
        .expect("run_until_stopped returned in time")
        .expect("no panic");
    assert!(result.is_ok(), "{result:?}");
    assert!(stopping.elapsed() < bound, "{:?}", stopping.elapsed());
    let refused = tokio::net::TcpStream::connect(address.trim_start_matches("http://")).await;
    assert!(refused.is_err(), "still accepting after it stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_closes_live_websockets_and_returns_once_every_task_ended_on_sqlite() {
    stop_with_a_live_subscription(Backend::Sqlite, Peer::Answers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_closes_live_websockets_and_returns_once_every_task_ended_on_postgres() {
    stop_with_a_live_subscription(Backend::Postgres, Peer::Answers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_answers_the_close_holds_shutdown_only_for_the_grace_on_sqlite() {
    stop_with_a_live_subscription(Backend::Sqlite, Peer::Silent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_answers_the_close_holds_shutdown_only_for_the_grace_on_postgres() {
    stop_with_a_live_subscription(Backend::Postgres, Peer::Silent).await;
}
