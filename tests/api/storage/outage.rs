//! A database outage: lift answers fast, with a retryable code, and recovers by itself. The app
//! reaches PostgreSQL through a proxy the test cuts (the shared server itself stays up).
//! `/ready` also checks the server-wide warehouse.

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::Proxy;
use crate::helpers::users::ORG_ADMIN;
use crate::helpers::*;

const QUERY: &str = "{ environment(key: \"prod\") { name } }";
/// The acquire timeout (3 s by default) plus a margin for a loaded machine.
const OUTAGE_ANSWER_WITHIN: Duration = Duration::from_secs(5);
const RECOVERY_WITHIN: Duration = Duration::from_secs(15);

/// The PostgreSQL server's address, from the URL tests create databases with.
fn postgres_address() -> std::net::SocketAddr {
    let url = postgres_admin_url();
    let authority = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .expect("a PostgreSQL URL");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host_port
        .to_socket_addrs()
        .expect("resolve PostgreSQL")
        .next()
        .expect("an address")
}

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", app.address))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_down_requests_fail_fast_as_retryable_health_answers_ready_does_not_and_all_recovers(
) {
    let proxy = Proxy::start(postgres_address()).await;
    let url = proxy.route(&fresh_database(Backend::Postgres).await);
    let app = spawn_app_with(settings(&url)).await;
    app.world().await;
    app.ok(ORG_ADMIN, QUERY, json!({})).await;
    assert_eq!(get(&app, "/ready").await.0, 200);

    proxy.cut();
    let started = Instant::now();
    let bearer = format!("Bearer {}", token(ORG_ADMIN));
    let (status, body) = app.post_answer(Some(&bearer), QUERY, json!({})).await;
    // The token cannot be checked without the database: 503, as GraphQL over HTTP allows.
    assert_eq!(status, 503, "{body:#}");
    assert!(
        started.elapsed() < OUTAGE_ANSWER_WITHIN,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(code(&body), "SERVICE_UNAVAILABLE", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["retryable"], json!(true));

    let started = Instant::now();
    assert_eq!(get(&app, "/health").await, (200, "ok".to_owned()));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let (status, body) = get(&app, "/ready").await;
    assert!(
        started.elapsed() < OUTAGE_ANSWER_WITHIN,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status, 503);
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        body,
        json!({"status": "unavailable", "database": "down", "warehouse": "not_configured"})
    );

    proxy.restore();
    let deadline = Instant::now() + RECOVERY_WITHIN;
    loop {
        let (_, body) = app.post_answer(Some(&bearer), QUERY, json!({})).await;
        if code(&body) == "OK" {
            assert_eq!(body["data"]["environment"]["name"], "prod");
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {body:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&app, "/ready").await.0, 200);
}

db_test_with!(
    ready_is_503_naming_the_warehouse_when_the_default_warehouse_is_unreachable,
    |settings| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        settings.clickhouse.clickhouse_url = Some(format!("http://127.0.0.1:{port}"));
    },
    |app| {
        let (status, body) = get(&app, "/ready").await;
        assert_eq!(status, 503);
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(
            body,
            json!({"status": "unavailable", "database": "up", "warehouse": "down"})
        );
        assert_eq!(get(&app, "/health").await.0, 200);
    }
);

db_test_with!(
    ready_is_200_when_the_database_and_the_default_warehouse_answer,
    |settings| {
        // The local engine takes plain bodies only.
        settings.clickhouse.clickhouse_compression =
            lift::configuration::ClickHouseCompression::None;
        settings.clickhouse.clickhouse_url = Some(crate::clickhouse::clickhouse_url());
    },
    |app| {
        let (status, body) = get(&app, "/ready").await;
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(
            body,
            json!({"status": "ready", "database": "up", "warehouse": "up"})
        );
    }
);
