//! One tenant's hung warehouse fills only its own target's slots: another environment on a healthy
//! warehouse still gets its results at once, and the hung server never sees more concurrent
//! queries than the per-target bound. A request waiting on a warehouse holds none of the
//! process's request slots (`LIFT_MAX_CONCURRENT_REQUESTS`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

const PER_TARGET: u64 = 2;

/// A server on 127.0.0.1 that accepts connections, counts them and never answers.
async fn hung_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

/// A started experiment in `env` with one attached metric, so its results need two queries.
async fn experiment_with_a_metric(app: &TestApp, env: &str, feature: &str) -> String {
    let purchases = metric(
        app,
        metric_of(env, "Purchases", "COUNT", json!({ "event": "purchase" })),
    )
    .await;
    let (experiment, _) = started_experiment(app, env, feature, "Checkout", None).await;
    attach_as(app, &experiment, &purchases, "INCREASE", "PRIMARY").await;
    experiment
}

const BOTH_PARTS: &str = "exposures { variant identities } metrics { metricId }";

db_test_with!(
    a_hung_tenant_warehouse_does_not_delay_another_environments_results,
    |settings| {
        local_engine(&mut settings);
        settings.clickhouse.clickhouse_timeout_seconds = 10;
        settings.clickhouse.clickhouse_max_concurrent_queries = 3;
        settings
            .clickhouse
            .clickhouse_max_concurrent_queries_per_target = PER_TARGET;
    },
    |app| {
        let world = app.world().await;
        let (hung_url, accepted) = hung_server().await;
        connect_to(&app, ENV, &hung_url, "default", "events").await;
        let healthy_warehouse = Warehouse::create().await;
        connect(&app, OTHER_ENV, &healthy_warehouse).await;
        let hung_experiment = experiment_with_a_metric(&app, ENV, &world.feature).await;
        let healthy_experiment = experiment_with_a_metric(&app, OTHER_ENV, &world.feature).await;
        let at = chrono::Utc::now() - chrono::Duration::days(1);
        healthy_warehouse
            .insert(&[
                Event::exposure(OTHER_ENV, EXPOSURE, FEATURE, "a", "control", at),
                Event::exposure(OTHER_ENV, EXPOSURE, FEATURE, "b", "treatment", at),
                Event::exposure(OTHER_ENV, EXPOSURE, FEATURE, "c", "treatment", at),
            ])
            .await;

        // Three requests of two queries each on the hung target: more than every free slot of
        // the process (3) if the target had no bound of its own.
        let hung_requests: Vec<_> = (0..3)
            .map(|_| {
                let client = TestApp::handle(app.address.clone(), app.db.clone());
                let experiment = hung_experiment.clone();
                tokio::spawn(async move {
                    results_as(&client, users::ORG_ADMIN, &experiment, BOTH_PARTS).await
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        while accepted.load(Ordering::SeqCst) < PER_TARGET as usize {
            assert!(
                Instant::now() < deadline,
                "the hung warehouse got {} connections",
                accepted.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Well within the hung queries' timeout (10 s + 2 s): nothing waits for them.
        let started = Instant::now();
        let body = tokio::time::timeout(
            Duration::from_secs(6),
            results_as(&app, users::ORG_ADMIN, &healthy_experiment, BOTH_PARTS),
        )
        .await
        .expect("the healthy environment's results do not wait for the hung tenant");
        assert_eq!(code(&body), "OK", "{body}");
        assert_eq!(
            exposures(&body["data"]["experiment"]["results"]),
            [("control".to_owned(), 1), ("treatment".to_owned(), 2)],
            "{body}"
        );
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            PER_TARGET as usize,
            "the hung target never ran more than its bound at once (healthy answered in {:?})",
            started.elapsed()
        );

        for request in hung_requests {
            let body = tokio::time::timeout(Duration::from_secs(25), request)
                .await
                .expect("hung requests end at their timeout")
                .expect("request task");
            assert_eq!(code(&body), "WAREHOUSE_UNAVAILABLE", "{body}");
        }
        assert!(healthy(&app).await);
    }
);

db_test_with!(
    a_request_waiting_on_a_hung_warehouse_holds_no_request_slot,
    |settings| {
        local_engine(&mut settings);
        settings.clickhouse.clickhouse_timeout_seconds = 10;
        settings.server.max_concurrent_requests = 1;
    },
    |app| {
        let world = app.world().await;
        let (hung_url, accepted) = hung_server().await;
        connect_to(&app, ENV, &hung_url, "default", "events").await;
        let hung_experiment = experiment_with_a_metric(&app, ENV, &world.feature).await;

        let client = TestApp::handle(app.address.clone(), app.db.clone());
        let hung_request = tokio::spawn(async move {
            results_as(&client, users::ORG_ADMIN, &hung_experiment, BOTH_PARTS).await
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while accepted.load(Ordering::SeqCst) == 0 {
            assert!(
                Instant::now() < deadline,
                "the hung warehouse was never asked"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // The only request slot is free while the results wait (10 s + 2 s): other requests run.
        let list =
            "query($key: String!) { environment(key: $key) { metrics(first: 5) { totalCount } } }";
        let body = tokio::time::timeout(
            Duration::from_secs(6),
            app.gql(users::ORG_ADMIN, list, json!({ "key": ENV })),
        )
        .await
        .expect("a request without warehouse work does not wait for the hung results");
        assert_eq!(code(&body), "OK", "{body}");
        assert_eq!(
            body["data"]["environment"]["metrics"]["totalCount"], 1,
            "{body}"
        );

        let body = tokio::time::timeout(Duration::from_secs(25), hung_request)
            .await
            .expect("the hung request ends at its timeout")
            .expect("request task");
        assert_eq!(code(&body), "WAREHOUSE_UNAVAILABLE", "{body}");
    }
);
