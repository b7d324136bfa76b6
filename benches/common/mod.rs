//! What the load scripts share: their settings from the environment, the load database (a SQLite
//! file, or a PostgreSQL database of their own at `LIFT_TEST_POSTGRES_URL`), the seeded `load`
//! environment with its admin user, that user's token, one GraphQL POST, quantiles of sorted
//! figures, and a process's CPU time.

use std::path::Path;
use std::time::Duration;

use lift::admin::{self, AdminCommand};
use lift::auth::JwtKeys;
use lift::configuration::AuthSettings;
use lift::db::Db;
use sea_orm::ConnectionTrait;

/// The JWT secret the server is started with and tokens are signed with.
pub const SECRET: &str = "lift-load-secret-that-is-long-enough-0123456789";
/// Key (and name) of the seeded environment.
pub const ENVIRONMENT: &str = "load";

/// The environment variable `name` parsed as `T`, or `default` when unset or unparsable.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn postgres_admin_url() -> String {
    std::env::var("LIFT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database for one load run: `url` to give the server, and for PostgreSQL the database
/// that [`LoadDatabase::drop_database`] removes afterwards.
pub struct LoadDatabase {
    pub url: String,
    postgres: Option<String>,
}

impl LoadDatabase {
    /// `lift.db` in `dir` (created on first connection with `mode=rwc`); nothing to drop.
    pub fn sqlite(dir: &Path) -> Self {
        LoadDatabase {
            url: format!("sqlite://{}/lift.db?mode=rwc", dir.display()),
            postgres: None,
        }
    }

    /// Creates the PostgreSQL database `name` on the server at `LIFT_TEST_POSTGRES_URL`.
    pub async fn postgres(name: String) -> Self {
        let admin_url = postgres_admin_url();
        let admin = sea_orm::Database::connect(&admin_url)
            .await
            .expect("PostgreSQL reachable at LIFT_TEST_POSTGRES_URL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        admin.close().await.ok();
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or(admin_url);
        LoadDatabase {
            url: format!("{base}/{name}"),
            postgres: Some(name),
        }
    }

    /// Drops the PostgreSQL database (a no-op for SQLite, whose directory the caller owns).
    /// Returns why the `DROP` failed; an unreachable server is not reported.
    pub async fn drop_database(self) -> Result<(), String> {
        let Some(name) = self.postgres else {
            return Ok(());
        };
        let Ok(admin) = sea_orm::Database::connect(&postgres_admin_url()).await else {
            return Ok(());
        };
        let dropped = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .map(|_| ())
            .map_err(|err| format!("could not drop database {name}: {err}"));
        admin.close().await.ok();
        dropped
    }
}

/// Creates organisation `name` (experimentation on) with project `p` and environment
/// [`ENVIRONMENT`], and user `email` (also called `name`) as the organisation's admin. The
/// database must be migrated. Returns the project's id.
pub async fn seed(db: &Db, name: &str, email: &str) -> String {
    let org = admin::run(
        db,
        AdminCommand::CreateOrganisation {
            name: name.into(),
            experimentation_enabled: true,
        },
    )
    .await
    .expect("org");
    let project = admin::run(
        db,
        AdminCommand::CreateProject {
            organisation: org.clone(),
            name: "p".into(),
        },
    )
    .await
    .expect("project");
    admin::run(
        db,
        AdminCommand::CreateEnvironment {
            project: project.clone(),
            name: ENVIRONMENT.into(),
            key: ENVIRONMENT.into(),
        },
    )
    .await
    .expect("environment");
    admin::run(
        db,
        AdminCommand::CreateUser {
            email: email.into(),
            name: name.into(),
        },
    )
    .await
    .expect("user");
    admin::run(
        db,
        AdminCommand::GrantOrganisation {
            organisation: org,
            email: email.into(),
            role: "admin".into(),
        },
    )
    .await
    .expect("grant");
    project
}

/// The server's auth settings: HS256 with [`SECRET`].
pub fn auth_settings() -> AuthSettings {
    AuthSettings {
        jwt_secret: Some(SECRET.into()),
        ..lift::configuration::Settings::defaults().auth
    }
}

/// A token for `email`, valid for `ttl`, that a server with [`auth_settings`] accepts.
pub fn issue_token(database_url: &str, email: &str, ttl: Duration) -> String {
    JwtKeys::from_settings(&auth_settings(), database_url)
        .expect("keys")
        .issue(email, ttl)
        .expect("token")
}

/// The value at quantile `q` of sorted `values` (`None` when there are none).
pub fn quantile<T: Copy>(values: &[T], q: f64) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    let i = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1;
    Some(values[i])
}

/// User + system CPU seconds of `pid` (or `self`), from `/proc/<pid>/stat` (USER_HZ = 100).
#[allow(dead_code)] // api_load does not measure CPU
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// POSTs one GraphQL request with `token`; the `data`, or the `errors` as text.
#[allow(dead_code)] // audit_load drives the server through its own HTTP client
pub async fn post_graphql(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let body: serde_json::Value = client
        .post(url)
        .bearer_auth(token)
        .json(&serde_json::json!({"query": query, "variables": variables}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    match body.get("errors") {
        Some(errors) => Err(errors.to_string()),
        None => Ok(body["data"].clone()),
    }
}
