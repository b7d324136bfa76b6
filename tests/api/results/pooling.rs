//! Warehouse clients are pooled per target: sequential results requests reuse the TCP connections
//! to an environment's warehouse instead of opening new ones per request, and a connection that
//! changes (its stored URL, or deleted and created anew) takes effect on the very next request.
//! Counted by TCP proxies in front of the local engine.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::Duration;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use super::support::*;
use crate::clickhouse::{clickhouse_url, Event, Warehouse};
use crate::helpers::*;

/// Sequential requests of every results field (two warehouse queries each).
const REQUESTS: usize = 20;
/// TCP connections those requests may open: the two queries of a request run at once, so two,
/// plus slack for a pause longer than the client's idle timeout (2 s) on a busy machine. Without
/// pooling it is two per request.
const MAX_CONNECTIONS: usize = 4;

const DELETE_CONNECTION: &str = "mutation($id: ID!) { deleteWarehouseConnection(id: $id) { id } }";

/// Forwards 127.0.0.1:<port> to the test ClickHouse and counts the connections it accepts.
struct CountingProxy {
    url: String,
    accepted: Arc<AtomicUsize>,
}

impl CountingProxy {
    async fn start() -> CountingProxy {
        let engine = clickhouse_url();
        let authority = engine.split("://").nth(1).unwrap_or(&engine).to_owned();
        let upstream: SocketAddr = tokio::net::lookup_host(authority)
            .await
            .expect("resolve the test ClickHouse")
            .next()
            .expect("an address of the test ClickHouse");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        CountingProxy { url, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Points the stored connection at `url` behind the API's back (as another replica or an
/// operator's edit would leave it).
async fn set_url(app: &TestApp, connection: &str, url: &str) {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "UPDATE warehouse_connections SET url = $1 WHERE id = $2",
        _ => "UPDATE warehouse_connections SET url = ? WHERE id = ?",
    };
    let result = app
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [url.into(), connection.to_owned().into()],
        ))
        .await
        .expect("update the connection's url");
    assert_eq!(result.rows_affected(), 1, "connection {connection} exists");
}

db_test_with!(
    results_requests_reuse_warehouse_connections_and_a_changed_connection_takes_effect_at_once,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        let first = CountingProxy::start().await;
        let connection = connect_to(&app, ENV, &first.url, &warehouse.database, "events").await;
        let purchases = metric(
            &app,
            metric_of(ENV, "Purchases", "COUNT", json!({ "event": "purchase" })),
        )
        .await;
        let (experiment, s) = started_experiment(&app, ENV, &world.feature, "Checkout", None).await;
        attach_as(&app, &experiment, &purchases, "INCREASE", "PRIMARY").await;
        let at = s + Duration::hours(1);
        warehouse
            .insert(&[
                Event::exposure(ENV, EXPOSURE, FEATURE, "c1", "control", at),
                Event::exposure(ENV, EXPOSURE, FEATURE, "t1", "treatment", at),
                Event::exposure(ENV, EXPOSURE, FEATURE, "t2", "treatment", at),
                Event::track(ENV, "purchase", "t1", at + Duration::hours(1)),
            ])
            .await;
        let expected = vec![("control".to_owned(), 1), ("treatment".to_owned(), 2)];
        let queries_before = counters(&app).await;

        for _ in 0..REQUESTS {
            let results = results(&app, &experiment).await;
            assert_eq!(exposures(&results), expected);
            assert_stats(
                &results,
                &purchases,
                "purchases",
                &[("control", 1, 0.0, 0.0), ("treatment", 2, 1.0, 1.0)],
            );
        }
        let queries = counters(&app).await;
        assert_eq!(
            (
                queries.exposures - queries_before.exposures,
                queries.metrics - queries_before.metrics
            ),
            (REQUESTS as u64, REQUESTS as u64),
            "every request asked the warehouse (no results were cached)"
        );
        let reused = first.accepted();
        assert!(
            (1..=MAX_CONNECTIONS).contains(&reused),
            "{REQUESTS} requests of two queries opened {reused} connections to the warehouse"
        );

        // The stored URL changes under the same id: the next request goes to the new address.
        let second = CountingProxy::start().await;
        set_url(&app, &connection, &second.url).await;
        let moved = results(&app, &experiment).await;
        assert_eq!(exposures(&moved), expected);
        assert!(second.accepted() >= 1, "the changed URL was used");
        assert_eq!(first.accepted(), reused, "the old address was not asked");

        // Deleted and created anew (a new id), pointing elsewhere: the same.
        app.ok(
            users::ORG_ADMIN,
            DELETE_CONNECTION,
            json!({ "id": connection }),
        )
        .await;
        let third = CountingProxy::start().await;
        connect_to(&app, ENV, &third.url, &warehouse.database, "events").await;
        let on_second = second.accepted();
        let recreated = results(&app, &experiment).await;
        assert_eq!(exposures(&recreated), expected);
        assert!(third.accepted() >= 1, "the new connection was used");
        assert_eq!(
            second.accepted(),
            on_second,
            "the deleted connection was not asked"
        );
    }
);
