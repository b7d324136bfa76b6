//! Typed settings. Every setting is a command-line flag that can also come from a `LIFT_*`
//! environment variable (clap reads both); this module is the only reader of the environment.

use std::path::PathBuf;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/lift.db?mode=rwc";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8000";

#[derive(clap::Args, Clone, Debug)]
pub struct DatabaseSettings {
    /// SQLite (`sqlite://path?mode=rwc`, the embedded default) or PostgreSQL (`postgres://…`) URL.
    #[arg(long, env = "LIFT_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

/// The signing algorithm, pinned by configuration and never read from a token.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "UPPER")]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    Es256,
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct AuthSettings {
    /// HS256 shared secret (at least 32 bytes). Without it or a public key, lift keeps a generated
    /// secret in `jwt-secret` beside its SQLite database.
    #[arg(long, env = "LIFT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// PEM public key for RS256/ES256 tokens (see `--jwt-algorithm`).
    #[arg(long, env = "LIFT_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,
    /// PEM private key, only needed by `lift token` and `lift demo` with RS256/ES256.
    #[arg(long, env = "LIFT_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,
    /// Algorithm for a public key: RS256 (default) or ES256. HS256 goes with `--jwt-secret`.
    #[arg(long, env = "LIFT_JWT_ALGORITHM", value_enum)]
    pub jwt_algorithm: Option<JwtAlgorithm>,
    /// When set, tokens must carry this `iss`.
    #[arg(long, env = "LIFT_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// When set, tokens must carry this `aud`.
    #[arg(long, env = "LIFT_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

#[derive(clap::Args, Clone, Debug)]
pub struct ServerSettings {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "LIFT_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Seconds between keepalive pings on idle WebSocket connections.
    #[arg(long, env = "LIFT_WS_KEEPALIVE_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_keepalive_seconds: u64,
    /// Audit entries buffered per environment for slow subscribers before they catch up from the
    /// database instead.
    #[arg(long, env = "LIFT_AUDIT_BUFFER", default_value_t = crate::events::BROADCAST_CAPACITY, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub audit_buffer: usize,
}

/// Everything `lift serve` needs.
#[derive(clap::Args, Clone, Debug)]
pub struct Settings {
    #[command(flatten)]
    pub server: ServerSettings,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub auth: AuthSettings,
}

/// The tracing filter: `RUST_LOG` when set, else `info` with sqlx quietened.
pub fn log_filter() -> String {
    std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn".to_owned())
}
