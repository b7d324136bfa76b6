//! Migrations go up, all the way down and up again on an empty database, on both backends.

use migration::{Migrator, MigratorTrait};

use crate::helpers::*;

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
