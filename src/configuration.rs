//! Typed settings. Every setting is a command-line flag that can also come from a `LIFT_*`
//! environment variable (clap reads both); this module is the only reader of the environment.

use std::path::PathBuf;

use secrecy::SecretString;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/lift.db?mode=rwc";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8000";

#[derive(clap::Args, Clone)]
pub struct DatabaseSettings {
    /// SQLite (`sqlite://path?mode=rwc`, the embedded default) or PostgreSQL (`postgres://…`) URL.
    #[arg(long, env = "LIFT_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Seconds a request waits for a database connection (including opening one) before it is
    /// answered `SERVICE_UNAVAILABLE`: a database outage costs clients seconds, not minutes.
    #[arg(long, env = "LIFT_DATABASE_ACQUIRE_TIMEOUT_SECONDS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub database_acquire_timeout_seconds: u64,
    /// Key that seals warehouse passwords in the database: 32 bytes in base64
    /// (`openssl rand -base64 32`). Unset: generated in `secret-key` beside the SQLite database;
    /// on PostgreSQL, passwords cannot be stored without it.
    #[arg(long, env = "LIFT_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<SecretString>,
}

/// The URL's password is redacted; the secret key is `secrecy`'s `[REDACTED]`.
impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("database_url", &crate::startup::redact(&self.database_url))
            .field(
                "database_acquire_timeout_seconds",
                &self.database_acquire_timeout_seconds,
            )
            .field("secret_key", &self.secret_key)
            .finish()
    }
}

/// The signing algorithm, pinned by configuration and never read from a token.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "UPPER")]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    Es256,
}

#[derive(clap::Args, Clone, Debug)]
pub struct AuthSettings {
    /// HS256 shared secret (at least 32 bytes). Without it or a public key, lift keeps a generated
    /// secret in `jwt-secret` beside its SQLite database.
    #[arg(long, env = "LIFT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,
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
    /// Seconds a WebSocket client has to send `connection_init` before the socket closes (4408).
    #[arg(long, env = "LIFT_WS_INIT_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ws_init_timeout_seconds: u64,
    /// Subscriptions one WebSocket may run at once; one more gets an `error` message for its id.
    #[arg(long, env = "LIFT_WS_MAX_SUBSCRIPTIONS", default_value_t = 100, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub ws_max_subscriptions: usize,
    /// Worker threads for WebSocket connections and the audit fan-out, apart from request
    /// handling (0: share the request runtime). Default: half the cores, at least one. More
    /// deliver a quiet stream sooner and slow writes during a burst of fan-out.
    #[arg(long, env = "LIFT_WS_THREADS", default_value_t = crate::subscription_runtime::default_threads(), value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1024))]
    pub ws_threads: usize,
    /// Scheduling niceness of those threads (Linux; 0–19): when the cores are busy, request
    /// handling gets the larger share and a burst of fan-out waits. 0: the requests' priority.
    #[arg(long, env = "LIFT_WS_NICE", default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=19))]
    pub ws_nice: i32,
    /// Audit entries buffered per environment, and per WebSocket (in deliveries of up to 16
    /// entries), for slow subscribers before they catch up from the database instead.
    #[arg(long, env = "LIFT_AUDIT_BUFFER", default_value_t = crate::events::BROADCAST_CAPACITY, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub audit_buffer: usize,
    /// Largest request body accepted, in bytes; a bigger one is answered 413 before it is read
    /// further (also when it arrives chunked).
    #[arg(long, env = "LIFT_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_073_741_824))]
    pub max_body_bytes: usize,
    /// Seconds a client has to send a request's headers (and, on a new connection, its first
    /// bytes); slower connections are closed.
    #[arg(long, env = "LIFT_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_seconds: u64,
    /// Connections (HTTP and WebSocket) served at once; beyond it new connections are closed
    /// as soon as they are accepted.
    #[arg(long, env = "LIFT_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_connections: usize,
    /// GraphQL requests over HTTP executed at once; more wait their turn (in arrival order).
    /// Bounds memory: each request in flight holds its partial results and pending database
    /// queries. Time waiting on the warehouse does not count.
    #[arg(long, env = "LIFT_MAX_CONCURRENT_REQUESTS", default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub max_concurrent_requests: usize,
    /// Browser origins allowed by CORS, comma-separated (`https://app.example.com`), or `*` for any
    /// origin without credentials. Empty: no CORS headers.
    #[arg(long, env = "LIFT_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,
    /// Seconds connections get to finish after shutdown begins; then their sockets are closed
    /// (a WebSocket peer that never answers the close, a request still running).
    #[arg(long, env = "LIFT_SHUTDOWN_GRACE_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_seconds: u64,
    /// When set, `GET /metrics` requires `Authorization: Bearer <this token>`; unset, it is open.
    #[arg(long, env = "LIFT_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

/// How lift sends queries to ClickHouse.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClickHouseCompression {
    /// LZ4 blocks, as real ClickHouse servers expect (the default).
    Lz4,
    /// Plain bodies: for the project's local engine (`scripts/clickhouse-local`).
    None,
}

/// The server-wide ClickHouse: the default warehouse of every environment that has no
/// `WarehouseConnection` of its own, and where `lift clickhouse init` and `lift demo` write.
#[derive(clap::Args, Clone, Debug)]
pub struct ClickHouseSettings {
    /// ClickHouse HTTP interface, e.g. `http://127.0.0.1:8123`. Unset: environments need their own
    /// warehouse connection.
    #[arg(long, env = "LIFT_CLICKHOUSE_URL")]
    pub clickhouse_url: Option<String>,
    #[arg(long, env = "LIFT_CLICKHOUSE_USER", default_value = "default")]
    pub clickhouse_user: String,
    #[arg(
        long,
        env = "LIFT_CLICKHOUSE_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub clickhouse_password: SecretString,
    #[arg(long, env = "LIFT_CLICKHOUSE_DATABASE", default_value = "default")]
    pub clickhouse_database: String,
    /// The events table (on a cluster, each shard's local table).
    #[arg(long, env = "LIFT_CLICKHOUSE_TABLE", default_value = "events")]
    pub clickhouse_table: String,
    /// The cluster (in the servers' `remote_servers`) whose shards each hold the events table,
    /// sharded by `identifier`: results then run per shard and merge per variant, and
    /// `lift clickhouse init` creates the tables `ON CLUSTER`. Unset: one server.
    #[arg(long, env = "LIFT_CLICKHOUSE_CLUSTER")]
    pub clickhouse_cluster: Option<String>,
    #[arg(long, env = "LIFT_CLICKHOUSE_COMPRESSION", value_enum, default_value_t = ClickHouseCompression::Lz4)]
    pub clickhouse_compression: ClickHouseCompression,
    /// Seconds a results query may run (sent as `max_execution_time`; lift also stops waiting).
    #[arg(long, env = "LIFT_CLICKHOUSE_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub clickhouse_timeout_seconds: u64,
    /// Warehouse queries this process runs at once; more wait their turn (within the timeout).
    #[arg(long, env = "LIFT_CLICKHOUSE_MAX_CONCURRENT_QUERIES", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub clickhouse_max_concurrent_queries: u64,
    /// Warehouse queries one target (an environment's connection, or the server default) runs at
    /// once in this process; at most `--clickhouse-max-concurrent-queries`. A slow tenant's
    /// warehouse fills only its own slots.
    #[arg(long, env = "LIFT_CLICKHOUSE_MAX_CONCURRENT_QUERIES_PER_TARGET", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub clickhouse_max_concurrent_queries_per_target: u64,
    /// What environments' own warehouse connections may reach besides public addresses:
    /// comma-separated host names (exact), IP addresses and CIDR networks, e.g.
    /// `ch.internal,10.20.0.0/16,fd00::/8`. Loopback, private, shared, link-local, multicast and
    /// reserved addresses are refused unless listed. `LIFT_CLICKHOUSE_URL` is not checked.
    #[arg(long, env = "LIFT_WAREHOUSE_ALLOWED_HOSTS", value_delimiter = ',')]
    pub warehouse_allowed_hosts: Vec<crate::warehouse::egress::AllowedHost>,
    /// Memory a results query may use on the server (`max_memory_usage`, bytes).
    #[arg(
        long,
        env = "LIFT_CLICKHOUSE_MAX_MEMORY_BYTES",
        default_value_t = 4_000_000_000
    )]
    pub clickhouse_max_memory_bytes: u64,
}

/// How results are judged.
#[derive(clap::Args, Clone, Debug)]
pub struct ResultsSettings {
    /// Significance level new experiments start with (their `analysis.alpha`, stored when created).
    #[arg(long, env = "LIFT_RESULTS_ALPHA", default_value_t = 0.05, value_parser = parse_alpha)]
    pub results_alpha: f64,
    /// Fewer identities than this in either arm: NOT_ENOUGH_DATA. New experiments start with it
    /// (`analysis.minimumIdentities`).
    #[arg(long, env = "LIFT_RESULTS_MIN_IDENTITIES", default_value_t = 50)]
    pub results_min_identities: u64,
    /// Fewer conversions than this in either arm of a conversion metric: NOT_ENOUGH_DATA. New
    /// experiments start with it (`analysis.minimumConversions`).
    #[arg(long, env = "LIFT_RESULTS_MIN_CONVERSIONS", default_value_t = 5)]
    pub results_min_conversions: u64,
    /// Seconds between two `refreshResults` of one experiment.
    #[arg(
        long,
        env = "LIFT_RESULTS_REFRESH_INTERVAL_SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(0..=31_622_400)
    )]
    pub results_refresh_interval_seconds: u64,
}

impl ResultsSettings {
    /// What new experiments inherit (and experiments stored without settings read).
    pub fn analysis_defaults(&self) -> crate::domain::analysis::AnalysisDefaults {
        crate::domain::analysis::AnalysisDefaults {
            alpha: self.results_alpha,
            min_identities: self.results_min_identities,
            min_conversions: self.results_min_conversions,
        }
    }
}

/// Who may introspect the schema (`__schema`, `__type`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Introspection {
    /// Everyone, also without a token: GraphiQL's documentation and completion work for explorers.
    Always,
    /// Only requests with a valid token.
    Authenticated,
    /// Nobody.
    Never,
}

/// What the GraphQL API tells about its own schema.
#[derive(clap::Args, Clone, Debug)]
pub struct GraphqlSettings {
    /// Who may introspect the schema: always, authenticated or never.
    #[arg(long, env = "LIFT_INTROSPECTION", value_enum, default_value_t = Introspection::Always)]
    pub introspection: Introspection,
    /// Whether validation errors suggest similar names ("Did you mean …?").
    #[arg(long, env = "LIFT_FIELD_SUGGESTIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub field_suggestions: bool,
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
    #[command(flatten)]
    pub clickhouse: ClickHouseSettings,
    #[command(flatten)]
    pub results: ResultsSettings,
    #[command(flatten)]
    pub graphql: GraphqlSettings,
}

impl Settings {
    /// Every setting at the default its flag declares, ignoring the command line and the
    /// environment: the one place defaults live is the `#[arg(default_value…)]` attributes above, and
    /// tests and benches start from here and change a few fields.
    pub fn defaults() -> Settings {
        use clap::{Args, FromArgMatches};
        let command = Settings::augment_args(clap::Command::new("lift"))
            .mut_args(|arg| arg.env(None::<&'static str>));
        let matches = command
            .try_get_matches_from(["lift"])
            .expect("every setting has a default");
        Settings::from_arg_matches(&matches).expect("defaults parse")
    }
}

fn parse_alpha(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(alpha) if alpha > 0.0 && alpha < 0.5 => Ok(alpha),
        _ => Err(format!(
            "{text:?} is not a significance level in (0, 0.5), e.g. 0.05"
        )),
    }
}

/// One CORS origin: `*`, or `scheme://host[:port]` without path (as browsers send `Origin`).
fn parse_origin(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text == "*" {
        return Ok(text.to_owned());
    }
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c)) =>
        {
            Ok(text.to_owned())
        }
        _ => Err(format!(
            "{text:?} is not an origin like https://app.example.com or http://localhost:3000 (or *)"
        )),
    }
}

/// The tracing filter: `RUST_LOG` when set, else `info` with sqlx quietened.
pub fn log_filter() -> String {
    std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_flags_declared_defaults_and_ignore_the_environment() {
        // A variable set in the test process must not leak into the defaults.
        std::env::set_var("LIFT_LISTEN", "0.0.0.0:1");
        let settings = Settings::defaults();
        std::env::remove_var("LIFT_LISTEN");
        assert_eq!(settings.server.listen, DEFAULT_LISTEN);
        assert_eq!(settings.database.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(
            settings.server.audit_buffer,
            crate::events::BROADCAST_CAPACITY
        );
        assert_eq!(settings.clickhouse.clickhouse_timeout_seconds, 30);
        assert_eq!(settings.results.results_alpha, 0.05);
        assert!(settings.clickhouse.clickhouse_url.is_none());
        assert!(settings.clickhouse.clickhouse_cluster.is_none());
        assert_eq!(settings.server.max_body_bytes, 2 * 1024 * 1024);
        assert!(settings.server.cors_origins.is_empty());
        assert!(settings.server.metrics_token.is_none());
    }

    #[test]
    fn the_audit_buffer_help_and_the_readme_name_the_fan_out_batch_size() {
        use clap::Args;
        let words = format!("up to {}", crate::events::fanout::BATCH_ENTRIES);
        let command = Settings::augment_args(clap::Command::new("lift"));
        let help = command
            .get_arguments()
            .find(|arg| arg.get_id() == "audit_buffer")
            .and_then(|arg| arg.get_help())
            .map(|help| help.to_string().replace('\n', " "))
            .expect("LIFT_AUDIT_BUFFER has help");
        assert!(help.contains(&words), "{help}");
        let readme = include_str!("../README.md");
        let line = readme
            .lines()
            .find(|line| line.starts_with("| `LIFT_AUDIT_BUFFER`"))
            .expect("the README lists LIFT_AUDIT_BUFFER");
        assert!(line.contains(&words), "{line}");
    }

    #[test]
    fn cors_origins_are_bare_origins_or_a_star() {
        assert!(parse_origin("https://app.example.com").is_ok());
        assert!(parse_origin("http://localhost:3000").is_ok());
        assert!(parse_origin("*").is_ok());
        assert!(parse_origin("app.example.com").is_err());
        assert!(parse_origin("https://app.example.com/path").is_err());
        assert!(parse_origin("https://").is_err());
    }

    #[test]
    fn debug_output_of_settings_shows_no_secret() {
        let mut settings = Settings::defaults();
        settings.database.database_url = "postgres://lift:db-password-1@db/lift".into();
        settings.database.secret_key = Some("c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=".into());
        settings.auth.jwt_secret = Some("jwt-secret-jwt-secret-jwt-secret-jwt".into());
        settings.clickhouse.clickhouse_password = "clickhouse-password-1".into();
        let debug = format!("{settings:?}");
        for secret in [
            "db-password-1",
            "c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=",
            "jwt-secret-jwt-secret",
            "clickhouse-password-1",
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("postgres://lift:***@db/lift"));
    }
}
