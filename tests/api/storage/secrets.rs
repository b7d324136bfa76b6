//! Secrets at rest: warehouse passwords are sealed in the database, the SQLite files and the
//! generated key are readable by their owner only, and passwords from before sealing keep working.

use base64::Engine;
use serde_json::{json, Value};

use super::support::scalar;
use crate::clickhouse::{clickhouse_url, Warehouse};
use crate::helpers::users::ORG_ADMIN;
use crate::helpers::*;

const CREATE: &str = "mutation($input: CreateWarehouseConnectionInput!) { createWarehouseConnection(input: $input) { id passwordSet } }";
const TEST: &str = "mutation($id: ID!) { testWarehouseConnection(id: $id) { reachable message } }";

use crate::results::support::local_engine;

async fn create(app: &TestApp, warehouse: &Warehouse, password: &str) -> Value {
    app.gql(
        ORG_ADMIN,
        CREATE,
        json!({"input": {"environmentKey": ENV, "url": clickhouse_url(), "database": warehouse.database, "password": password}}),
    )
    .await
}

async fn reachable(app: &TestApp, id: &str) -> bool {
    let data = app.ok(ORG_ADMIN, TEST, json!({ "id": id })).await;
    data["testWarehouseConnection"]["reachable"] == json!(true)
}

async fn stored_password(db: &lift::db::Db) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT password FROM warehouse_connections",
        ))
        .await
        .expect("query")
        .expect("a connection");
    row.try_get_by_index::<String>(0).expect("text")
}

/// Every byte SQLite keeps for the database: the file and its write-ahead log.
fn sqlite_bytes(dir: &std::path::Path) -> Vec<u8> {
    ["lift.db", "lift.db-wal"]
        .iter()
        .filter_map(|name| std::fs::read(dir.join(name)).ok())
        .flatten()
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn sqlite_dir(url: &str) -> std::path::PathBuf {
    let path = lift::db::connect::sqlite_path(url).expect("an SQLite file");
    std::path::Path::new(&path)
        .parent()
        .expect("a directory")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_passwords_are_sealed_in_the_sqlite_file_and_still_work_after_a_restart() {
    let url = fresh_database(Backend::Sqlite).await;
    let mut settings = settings(&url);
    local_engine(&mut settings);
    // The key generated beside the database, read again by the restarted server.
    settings.database.secret_key = None;
    let app = spawn_app_with(settings.clone()).await;
    app.world().await;
    let warehouse = Warehouse::create().await;
    let password = format!("pw-{}", uuid::Uuid::now_v7().simple());
    let body = create(&app, &warehouse, &password).await;
    assert_eq!(code(&body), "OK", "{body:#}");
    assert_eq!(
        body["data"]["createWarehouseConnection"]["passwordSet"],
        true
    );
    let id = body["data"]["createWarehouseConnection"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let stored = stored_password(&app.db).await;
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains(&password));
    let dir = sqlite_dir(&url);
    let bytes = sqlite_bytes(&dir);
    assert!(!bytes.is_empty());
    assert!(
        !contains(&bytes, &password),
        "the password is in the database files"
    );

    let restarted = spawn_app_with(settings).await;
    assert!(reachable(&restarted, &id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_stored_in_plain_text_before_sealing_is_sealed_at_start_and_keeps_working() {
    let url = fresh_database(Backend::Sqlite).await;
    let mut settings = settings(&url);
    local_engine(&mut settings);
    let app = spawn_app_with(settings.clone()).await;
    app.world().await;
    let warehouse = Warehouse::create().await;
    let body = create(&app, &warehouse, "will-be-replaced").await;
    let id = body["data"]["createWarehouseConnection"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("UPDATE warehouse_connections SET password = 'legacy-plain-password'")
        .await
        .expect("a row as older versions stored it");
    assert!(reachable(&app, &id).await, "plain text is read as it is");

    let restarted = spawn_app_with(settings).await;
    let stored = stored_password(&restarted.db).await;
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(reachable(&restarted, &id).await);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_files_and_the_generated_key_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let url = fresh_database(Backend::Sqlite).await;
    let mut settings = settings(&url);
    settings.database.secret_key = None;
    let app = spawn_app_with(settings).await;
    app.world().await;
    let dir = sqlite_dir(&url);
    for name in ["lift.db", "lift.db-wal", "lift.db-shm", "secret-key"] {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {:o}", mode & 0o777);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_without_a_secret_key_passwords_are_refused_and_connections_without_one_work() {
    let mut settings = settings(&fresh_database(Backend::Postgres).await);
    settings.database.secret_key = None;
    local_engine(&mut settings);
    let app = spawn_app_with(settings).await;
    app.world().await;
    let warehouse = Warehouse::create().await;
    let body = create(&app, &warehouse, "secret").await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
    assert_eq!(field(&body), "password");
    assert!(body["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("LIFT_SECRET_KEY")));
    assert_eq!(
        scalar(&app.db, "SELECT COUNT(*) FROM warehouse_connections").await,
        0
    );

    let body = create(&app, &warehouse, "").await;
    assert_eq!(code(&body), "OK", "{body:#}");
    assert_eq!(
        body["data"]["createWarehouseConnection"]["passwordSet"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_with_a_secret_key_passwords_are_sealed() {
    let url = fresh_database(Backend::Postgres).await;
    let mut settings = settings(&url);
    local_engine(&mut settings);
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    settings.database.secret_key = Some(key.into());
    let app = spawn_app_with(settings.clone()).await;
    app.world().await;
    let warehouse = Warehouse::create().await;
    let body = create(&app, &warehouse, "pg-secret-password").await;
    assert_eq!(code(&body), "OK", "{body:#}");
    let id = body["data"]["createWarehouseConnection"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let stored = stored_password(&app.db).await;
    assert!(stored.starts_with("v1:") && !stored.contains("pg-secret-password"));
    let restarted = spawn_app_with(settings).await;
    assert!(reachable(&restarted, &id).await);
}
