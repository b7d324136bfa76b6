//! Why a scope cannot be compiled. Every variant is a bug or bad configuration upstream (the domain
//! already refused bad metrics); none is a query failure, since the compiler does no IO.

/// A scope the compiler refuses; the message names the offending part, never echoes SQL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompileError {
    #[error("the feature has no variants")]
    NoVariants,
    #[error("variant key {0:?} is listed more than once")]
    DuplicateVariant(String),
    #[error("there are no metrics to compile")]
    NoMetrics,
    #[error("the results range ends before it starts")]
    EndBeforeStart,
    /// Database and table names travel as `Identifier` parameters, which ClickHouse reads without
    /// unescaping; names with characters a client would escape could not be sent faithfully.
    #[error("{what} {name:?} is not a usable identifier (empty, or has quotes, backslashes, backticks or control characters)")]
    UnsupportedIdentifier { what: &'static str, name: String },
    /// `metric` is the index into `ResultsScope::metrics`.
    #[error("metric {metric}: {reason}")]
    InvalidMetric { metric: usize, reason: String },
    /// The metric cannot be computed on a sharded cluster (`metric` indexes the scope's metrics).
    #[error("metric {metric} cannot be computed on a cluster: {reason}")]
    NotOnCluster { metric: usize, reason: String },
    #[error("a metric window reaches beyond the representable time range")]
    WindowOutOfRange,
    #[error("the CUPED lookback must be a positive whole number of seconds")]
    InvalidLookback,
    /// Shards' quantiles do not merge into the quantile of all identities (see `quantile.rs`).
    #[error("QUANTILE metrics cannot be computed on a cluster: per-shard quantiles do not add up")]
    QuantileOnCluster,
}
