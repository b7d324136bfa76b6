//! What a results query is about: the events table, the experiment (environment, feature,
//! exposure event, variants, time range, exposure policy) and its metrics; plus [`BoundScope`],
//! the scope's values already turned into placeholders, shared by every CTE of one query.

use chrono::{DateTime, Duration, Utc};

use super::error::CompileError;
use super::param::Params;
use crate::domain::metric::{Aggregation, MetricDefinition};

/// Where events live: `database.table`, each sent as an `Identifier` parameter, on one server or
/// on every shard of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsTable {
    pub database: String,
    pub table: String,
    pub placement: Placement,
}

/// How the events table is laid out across servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// One server (replicas of it included) holds every event in `database.table`.
    Single,
    /// Events are sharded by `identifier` across the named cluster (`remote_servers`), so all
    /// events of an identity live on one shard; `database.table` names each shard's *local*
    /// table, never the `Distributed` table over them. See `cluster.rs`.
    Cluster(String),
}

/// How the events table treats at-least-once duplicates (events with the same natural key: every
/// column but `collected_at`), which decides how the metrics query reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsTableKind {
    /// A `ReplacingMergeTree` whose sorting key is the natural key (what `lift clickhouse init`
    /// creates): merges keep one row per key, and `FINAL` merges the parts not merged yet while
    /// reading, so each event is read once.
    Deduplicating,
    /// Any other table (a `MergeTree` created by an older lift, or one lift did not create):
    /// events are grouped by their natural key while reading, an aggregation that spills to disk
    /// (`max_bytes_before_external_group_by`) instead of failing on large tables.
    Plain,
}

/// What to do with an identity that was exposed to more than one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipleExposureHandling {
    /// Keep the identity in the variant of its first exposure (counted in `multiple_exposures`).
    FirstTouch,
    /// Leave the identity out of every variant (counted in `multiple_exposures`).
    Exclude,
}

/// One metric attached to the experiment, as the domain parsed it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    pub aggregation: Aggregation,
    pub definition: MetricDefinition,
}

/// Everything one results computation reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultsScope {
    pub table: EventsTable,
    pub environment_key: String,
    pub feature_name: String,
    pub exposure_event: String,
    /// The feature's variant keys, in order; output rows follow this order.
    pub variants: Vec<String>,
    /// Exposures count within `[start, end]`, both inclusive.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub handling: MultipleExposureHandling,
    pub metrics: Vec<MetricSpec>,
    /// CUPED: when set (a positive whole number of seconds), every metric but MEAN also gets a
    /// per-identity covariate, the same metric over `[first exposure − lookback, first exposure)`,
    /// and the metrics query returns its sums beside the metric's (see `covariates.rs`).
    pub cuped_lookback: Option<Duration>,
}

/// The scope's values as placeholders; built once per query so every CTE refers to the same
/// parameters.
pub(super) struct BoundScope {
    /// `{pA:Identifier}.{pB:Identifier}`
    pub table: String,
    pub environment: String,
    pub exposure_event: String,
    pub feature: String,
    pub start: String,
    pub end: String,
    /// One `{pN:String}` per variant key, in the scope's order.
    pub variants: Vec<String>,
    pub handling: MultipleExposureHandling,
}

impl BoundScope {
    /// Checks the experiment part of the scope (not its metrics) and binds its values.
    pub fn bind(scope: &ResultsScope, params: &mut Params) -> Result<Self, CompileError> {
        if scope.variants.is_empty() {
            return Err(CompileError::NoVariants);
        }
        for (i, key) in scope.variants.iter().enumerate() {
            if scope.variants[..i].contains(key) {
                return Err(CompileError::DuplicateVariant(key.clone()));
            }
        }
        if scope.end < scope.start {
            return Err(CompileError::EndBeforeStart);
        }
        Ok(BoundScope {
            table: bind_table(&scope.table, params)?,
            environment: params.string(&scope.environment_key),
            exposure_event: params.string(&scope.exposure_event),
            feature: params.string(&scope.feature_name),
            start: params.datetime(scope.start),
            end: params.datetime(scope.end),
            variants: scope.variants.iter().map(|v| params.string(v)).collect(),
            handling: scope.handling,
        })
    }

    /// `[{p7:String}, {p8:String}]`: the variant keys as an SQL array.
    pub fn variant_array(&self) -> String {
        format!("[{}]", self.variants.join(", "))
    }
}

/// Binds `database.table` as two `Identifier` parameters.
pub(super) fn bind_table(table: &EventsTable, params: &mut Params) -> Result<String, CompileError> {
    check_identifier("database", &table.database)?;
    check_identifier("table", &table.table)?;
    Ok(format!(
        "{}.{}",
        params.identifier(&table.database),
        params.identifier(&table.table)
    ))
}

/// `Identifier` parameters are read raw while clients escape `\ ' `` ` ``, tab and newline; names
/// without those (and without other control characters) read the same either way.
fn check_identifier(what: &'static str, name: &str) -> Result<(), CompileError> {
    let unusable = |c: char| matches!(c, '\\' | '\'' | '`') || c.is_control();
    if name.is_empty() || name.chars().any(unusable) {
        return Err(CompileError::UnsupportedIdentifier {
            what,
            name: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fixtures::scope;

    fn bind(scope: &ResultsScope) -> Result<BoundScope, CompileError> {
        BoundScope::bind(scope, &mut Params::new())
    }

    #[test]
    fn a_feature_needs_distinct_variants() {
        let mut s = scope();
        s.variants.clear();
        assert_eq!(bind(&s).err(), Some(CompileError::NoVariants));
        let mut s = scope();
        s.variants = vec!["control".into(), "treatment".into(), "control".into()];
        assert_eq!(
            bind(&s).err(),
            Some(CompileError::DuplicateVariant("control".into()))
        );
    }

    #[test]
    fn the_range_must_not_end_before_it_starts() {
        let mut s = scope();
        s.end = s.start - chrono::Duration::milliseconds(1);
        assert_eq!(bind(&s).err(), Some(CompileError::EndBeforeStart));
        s.end = s.start;
        assert!(bind(&s).is_ok());
    }

    #[test]
    fn table_names_that_would_need_escaping_are_refused() {
        for bad in ["", "ev`ents", "ev'ents", "ev\\ents", "ev\nents"] {
            let mut s = scope();
            s.table.table = bad.into();
            assert!(
                matches!(
                    bind(&s),
                    Err(CompileError::UnsupportedIdentifier { what: "table", .. })
                ),
                "{bad:?}"
            );
        }
        let mut s = scope();
        s.table.database = "analytics-prod.eu".into();
        assert!(bind(&s).is_ok());
    }
}
