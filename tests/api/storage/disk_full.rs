//! SQLite on a full disk: the database lives on a small tmpfs that the test fills with a ballast
//! file and frees again. Mounting needs root (as `scripts/test` and CI run).

use serde_json::json;

use super::support::{scalar, Tmpfs};
use crate::helpers::users::ORG_ADMIN;
use crate::helpers::*;

const ATTEMPTS: usize = 300;
const REFUSALS_WANTED: usize = 30;
/// Writes after the space is back, half of them conflicts.
const WRITES_AFTER: usize = 40;

/// Metrics with an id in `ids` in the database, and audit entries about them.
async fn stored(db: &lift::db::Db, ids: &[String]) -> (i64, i64) {
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .chain(["''".to_owned()])
        .collect::<Vec<_>>()
        .join(",");
    (
        scalar(
            db,
            &format!("SELECT COUNT(*) FROM metrics WHERE id IN ({list})"),
        )
        .await,
        scalar(
            db,
            &format!("SELECT COUNT(*) FROM audit_logs WHERE related_object_id IN ({list})"),
        )
        .await,
    )
}

/// The outcome of one `createMetric`: its id, or its error code and the whole answer.
async fn create(app: &TestApp, name: &str) -> Result<String, (String, serde_json::Value)> {
    let body = app
        .gql(
            ORG_ADMIN,
            "mutation($input: CreateMetricInput!) { createMetric(input: $input) { id } }",
            json!({"input": metric_input(ENV, name)}),
        )
        .await;
    match body["data"]["createMetric"]["id"].as_str() {
        Some(id) => Ok(id.to_owned()),
        None => Err((code(&body), body)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_full_disk_writes_are_refused_retryably_no_acknowledged_one_is_lost_and_writes_resume_when_space_is_back(
) {
    let disk = Tmpfs::mount(16);
    let url = disk.database_url();
    let app = spawn_app_with(settings(&url)).await;
    app.world().await;
    disk.fill_leaving(64 * 1024);

    // Names repeat, so conflicts (errors SQLite does not roll back by itself) mix with the full
    // disk's errors on every pooled connection.
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for attempt in 0..ATTEMPTS {
        match create(&app, &format!("before {}", attempt / 2)).await {
            Ok(id) => acknowledged.push(id),
            Err((code, _)) if code == "CONFLICT" => {}
            Err((code, body)) => {
                assert_eq!(code, "SERVICE_UNAVAILABLE", "{body:#}");
                assert_eq!(body["errors"][0]["extensions"]["retryable"], json!(true));
                refused += 1;
                if refused == REFUSALS_WANTED {
                    break;
                }
            }
        }
    }
    assert_eq!(refused, REFUSALS_WANTED, "the disk never filled up");

    // Space comes back: the same server writes again, without a restart.
    disk.free();
    let before = acknowledged.len();
    for attempt in 0..WRITES_AFTER {
        match create(&app, &format!("after {}", attempt / 2)).await {
            Ok(id) => acknowledged.push(id),
            Err((code, body)) => assert_eq!(code, "CONFLICT", "{body:#}"),
        }
    }
    assert_eq!(acknowledged.len(), before + WRITES_AFTER / 2);

    // Every acknowledged metric, with its audit entry, is in the file for a restarted server, and
    // nothing else: refused writes left no row and no entry.
    let restarted = spawn_app_with(settings(&url)).await;
    let n = acknowledged.len() as i64;
    assert_eq!(stored(&restarted.db, &acknowledged).await, (n, n));
    assert_eq!(
        scalar(&restarted.db, "SELECT COUNT(*) FROM metrics").await,
        n
    );
    assert_eq!(
        scalar(
            &restarted.db,
            "SELECT COUNT(*) FROM audit_logs WHERE related_object_type = 'METRIC'"
        )
        .await,
        n
    );
}
