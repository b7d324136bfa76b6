//! Building and running the server: connect, migrate, bind, serve until the shutdown future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::tasks::Tasks;
use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::DbBackend;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::JwtKeys;
use crate::configuration::{ClickHouseSettings, DatabaseSettings, Settings};
use crate::db::{self, Db, Sealer};
use crate::domain::warehouse::{WarehouseDraft, WarehouseTarget};
use crate::events::{spawn_postgres_listener, AuditHub};
use crate::graphql::build_schema;
use crate::http::server::{ConnectionSlots, Server};
use crate::http::{router, AppState, Edge, WebSocketLimits};
use crate::service::App;
use crate::subscription_runtime::SubscriptionRuntime;
use crate::telemetry::Metrics;
use crate::warehouse::{WarehouseClients, WarehouseOptions};

/// A built server: bound, migrated, not yet serving. It owns its shutdown token and the tracker
/// of every task it starts, so `run_until_stopped` can end them all and wait for them.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    header_read_timeout: Duration,
    shutdown_grace: Duration,
    shutdown: CancellationToken,
    tasks: Tasks,
}

/// The hub of live audit events, fed on PostgreSQL by `LISTEN` (commits of every replica) and
/// everywhere by this process's own commits.
fn audit_hub(
    db: &Db,
    capacity: usize,
    shutdown: CancellationToken,
    tasks: Tasks,
    metrics: Metrics,
    subscriptions: &SubscriptionRuntime,
) -> AuditHub {
    let lane = subscriptions.handle().clone();
    let hub = AuditHub::new(db.clone(), capacity, shutdown, tasks, metrics, lane);
    if db.get_database_backend() == DbBackend::Postgres {
        spawn_postgres_listener(db.get_postgres_connection_pool().clone(), hub.clone());
    }
    hub
}

/// The server-wide ClickHouse target, checked like a connection created through the API.
pub fn default_warehouse(settings: &ClickHouseSettings) -> anyhow::Result<Option<WarehouseTarget>> {
    let Some(url) = &settings.clickhouse_url else {
        return Ok(None);
    };
    let draft = WarehouseDraft {
        url: url.clone(),
        database: Some(settings.clickhouse_database.clone()),
        table: Some(settings.clickhouse_table.clone()),
        cluster: settings.clickhouse_cluster.clone(),
        user: Some(settings.clickhouse_user.clone()),
        password: Some(settings.clickhouse_password.clone()),
    };
    WarehouseTarget::parse(draft)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("LIFT_CLICKHOUSE_* settings: {e}"))
}

/// The key that seals warehouse passwords; passwords stored before sealing are sealed now.
async fn sealer(db: &Db, settings: &DatabaseSettings) -> anyhow::Result<Sealer> {
    let sealer = Sealer::from_settings(settings.secret_key.as_ref(), &settings.database_url)?;
    let sealed = db::repo::warehouse::seal_plaintext_passwords(db, &sealer)
        .await
        .map_err(|e| anyhow::anyhow!("sealing stored warehouse passwords: {e:?}"))?;
    if sealed > 0 {
        tracing::info!(sealed, "sealed warehouse passwords stored in plain text");
    }
    if !sealer.has_key() {
        tracing::warn!("LIFT_SECRET_KEY is not set: warehouse connections cannot store passwords");
    }
    Ok(sealer)
}

impl Application {
    /// Connects to the database, applies pending migrations, prepares JWT keys and binds the
    /// listener (port 0 picks a free port; see `local_addr`).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let mut db = connect_and_migrate_with(&settings.database).await?;
        let jwt = JwtKeys::from_settings(&settings.auth, &settings.database.database_url)?;
        let sealer = sealer(&db, &settings.database).await?;
        let listener = TcpListener::bind(&settings.server.listen)
            .await
            .with_context(|| format!("binding {}", settings.server.listen))?;
        let (shutdown, tasks, metrics) = (CancellationToken::new(), Tasks::new(), Metrics::new());
        let statements = metrics.db_statements();
        db.set_metric_callback(move |_| statements.increment(1));
        let mut warehouse_options = WarehouseOptions::from_settings(&settings.clickhouse);
        warehouse_options.metrics = metrics.clone();
        let warehouses = WarehouseClients::new(
            default_warehouse(&settings.clickhouse)?.as_ref(),
            &warehouse_options,
        );
        let server = &settings.server;
        let subscriptions = Arc::new(
            SubscriptionRuntime::new(server.ws_threads, server.ws_nice)
                .context("starting the subscription runtime")?,
        );
        let app = App {
            db: db.clone(),
            audit: audit_hub(
                &db,
                server.audit_buffer,
                shutdown.clone(),
                tasks.clone(),
                metrics.clone(),
                &subscriptions,
            ),
            warehouse_options,
            warehouses,
            results: settings.results.clone(),
            sealer,
            metrics,
        };
        let state = AppState {
            schema: build_schema(app.clone(), &settings.graphql),
            app,
            jwt: Arc::new(jwt),
            subscriptions,
            keepalive: Duration::from_secs(server.ws_keepalive_seconds),
            ws_limits: WebSocketLimits {
                init_timeout: Duration::from_secs(server.ws_init_timeout_seconds),
                max_subscriptions: server.ws_max_subscriptions,
            },
            edge: Arc::new(Edge {
                max_body_bytes: server.max_body_bytes,
                cors_origins: server.cors_origins.clone(),
                metrics_token: server.metrics_token.clone(),
                slots: ConnectionSlots::new(server.max_connections),
                admission: crate::admission::Admission::new(server.max_concurrent_requests),
            }),
        };
        Ok(Application {
            listener,
            state,
            header_read_timeout: Duration::from_secs(server.header_read_timeout_seconds),
            shutdown_grace: Duration::from_secs(server.shutdown_grace_seconds),
            shutdown,
            tasks,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests finish,
    /// closes WebSockets (1001), stops the audit tails and the listener, and returns once every
    /// task the server started has ended.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.listener.local_addr()?, "lift is listening; GraphiQL at /graphql");
        let token = self.shutdown.clone();
        let server = Server {
            listener: self.listener,
            slots: self.state.edge.slots.clone(),
            metrics: self.state.app.metrics.clone(),
            router: router(self.state),
            header_read_timeout: self.header_read_timeout,
            shutdown_grace: self.shutdown_grace,
            shutdown: self.shutdown,
            tasks: self.tasks,
        };
        let stop = async move {
            tokio::select! {
                _ = shutdown => token.cancel(),
                _ = token.cancelled() => {}
            }
        };
        tokio::join!(server.serve(), stop);
        tracing::info!("lift stopped");
        Ok(())
    }
}

/// Opens the database at `database_url` (other database settings at their defaults) and brings
/// its schema up to date.
pub async fn connect_and_migrate(database_url: &str) -> anyhow::Result<Db> {
    let mut settings = Settings::defaults().database;
    settings.database_url = database_url.to_owned();
    connect_and_migrate_with(&settings).await
}

/// Opens the database as `settings` say and brings its schema up to date.
pub async fn connect_and_migrate_with(settings: &DatabaseSettings) -> anyhow::Result<Db> {
    let database_url = &settings.database_url;
    let db = db::connect_with(settings)
        .await
        .with_context(|| format!("connecting to {}", redact(database_url)))?;
    Migrator::up(&db, None)
        .await
        .context("applying migrations")?;
    Ok(db)
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/lift.db"), "sqlite://data/lift.db");
    }
}
