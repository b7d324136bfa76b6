//! Logging set-up: one `tracing` subscriber, filtered by `RUST_LOG` (default `info,sqlx=warn`);
//! and the application's Prometheus series ([`Metrics`]).

pub mod metrics;

pub use self::metrics::Metrics;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber, writing to stderr. Safe to call more than once (later calls no-op).
pub fn init(filter: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}
