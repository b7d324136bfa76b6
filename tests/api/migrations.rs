//! Migrations go up, all the way down and up again on an empty database, on both backends; the
//! metric versions migration backfills existing metrics and attachments as version 1.

use migration::{Migrator, MigratorTrait};

use crate::helpers::*;
use serde_json::json;

async fn up_down_up(backend: Backend) {
    let url = fresh_database(backend).await;
    let db = lift::db::connect(&url).await.expect("connect");
    Migrator::up(&db, None).await.expect("up");
    let applied = Migrator::get_applied_migrations(&db)
        .await
        .expect("applied")
        .len();
    assert_eq!(applied, Migrator::migrations().len());
    Migrator::down(&db, None).await.expect("down");
    assert!(Migrator::get_applied_migrations(&db)
        .await
        .expect("applied")
        .is_empty());
    Migrator::up(&db, None).await.expect("up again");
    assert!(Migrator::get_pending_migrations(&db)
        .await
        .expect("pending")
        .is_empty());
}

#[tokio::test]
async fn migrations_go_down_and_up_again_on_sqlite() {
    up_down_up(Backend::Sqlite).await;
}

#[tokio::test]
async fn migrations_go_down_and_up_again_on_postgres() {
    up_down_up(Backend::Postgres).await;
}

const METRIC_VERSIONS: &str = "query($id: ID!) { metric(id: $id) { version versions { totalCount edges { node { version definition { event } } } } attachments { metricVersion definition { version definition { event } } } } }";

db_test!(existing_metrics_and_attachments_become_version_1, |app| {
    let world = app.world().await;
    let metric = app.metric(ENV, "Views").await;
    let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
    app.attach(&experiment, &metric).await;

    // Back to before versions, then up again: the migration backfills what is there.
    Migrator::down(&app.db, Some(1)).await.expect("down one");
    Migrator::up(&app.db, None).await.expect("up");

    let data = app
        .ok(users::ORG_ADMIN, METRIC_VERSIONS, json!({"id": metric}))
        .await;
    assert_eq!(
        data["metric"],
        json!({
            "version": 1,
            "versions": {"totalCount": 1, "edges": [{"node": {"version": 1, "definition": {"event": "page_view"}}}]},
            "attachments": [{"metricVersion": 1, "definition": {"version": 1, "definition": {"event": "page_view"}}}],
        })
    );
});
