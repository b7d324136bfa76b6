//! The ClickHouse SQL compiler: an experiment's scope and metrics in, parameterised SQL out.
//!
//! **Invariant:** pure and deterministic: no IO, and no tokio, sea_orm, async_graphql or clickhouse
//! (a test checks the imports). **Invariant:** no value of the scope is ever written into the SQL
//! text; every one (environment, feature, exposure event, variant keys, event and property names,
//! filter values, times, database and table names) is a server-side parameter `{pN:Type}`, see
//! [`ParamValue`] for how each is sent. The text depends only on the scope's *shape* (number of
//! variants, metrics, filters; aggregations, operators; which metrics share an event name), never
//! on the values themselves.
//!
//! # Queries
//! - [`compile_exposures`] → `variant String, identities UInt64, multiple_exposures UInt64,
//!   unknown_variant UInt64`: one row per feature variant in scope order (zero identities
//!   included), the two totals repeated on every row.
//! - [`compile_metrics`] → `metric UInt32, variant String, n UInt64, sum Float64, sum_sq Float64`:
//!   one row per (metric index, variant) with `n > 0`.
//! - [`compile_exposure_probe`] → `exposures UInt64`.
//!
//! # Pipeline (one CTE per concept, PostHog-style)
//! Metrics: `identities` (the one read of the events table, grouped by `identifier`: the
//! identity's assignment, i.e. first variant, first exposure time, number of variants seen, and
//! one deduplicated array of its events per metric event name) → `entity_metrics` (per identity
//! that counts, an array of one value per metric, computed with lambdas over those arrays) → final
//! `ARRAY JOIN` of that array and `GROUP BY metric, variant`. Exposures: `exposures` (the same
//! assignment aggregates over the exposure key range) → one row per variant. Semantics are
//! documented where they are built: `exposures.rs` (assignment, FIRST_TOUCH/EXCLUDE, unknown
//! variants; shared by both queries), `identities.rs` (what is read, deduplication),
//! `entity_metrics.rs` (windows, per-aggregation values, NULLs), `filter.rs` and `property.rs`
//! (typed property reads).
//!
//! # One read per query
//! ClickHouse inlines CTEs: a CTE used twice is evaluated twice. So each CTE here is used exactly
//! once (a test checks it), and each query reads the events table once whatever the number of
//! metrics: the exposures query the key range `(environment, exposure event, feature)`, the
//! metrics query that of the exposure event and of every metric event (`event = … OR event IN
//! [...]`), both on the table's sort-key prefix. After that read come per-identity array
//! functions and one small `GROUP BY`: no join, no `DISTINCT` over the events (the previous shape,
//! a `SELECT DISTINCT` of the metric events joined to the assignments, took about twice as long).
//! `EXPLAIN` shows one `ReadFromMergeTree` step per query.
//!
//! Memory: the `GROUP BY identifier` holds, for every identity with an exposure *or* a metric
//! event in the scanned range (the unexposed are dropped only after grouping), its assignment and
//! arrays of its own metric events, `(timestamp, value, metadata)` each: about the size of the
//! scanned metric events, as the `DISTINCT` it replaces held, within the warehouse's
//! `max_memory_usage`.
//!
//! # Clusters
//! With [`Placement::Cluster`] the table is each shard's local table, and every query above runs
//! as it is on every shard (an identity's events all live on one shard) inside
//! `cluster({pN:String}, view(…))`; the initiator only adds up the per-variant counts and sums
//! (`cluster.rs`). One-server SQL is unchanged.
//!
//! # Duplicates
//! At-least-once delivery duplicates are removed by `arrayDistinct` on each identity's array of
//! events of one name: the array belongs to one `identifier` and one `event`, and its elements are
//! `(timestamp, value, metadata)`, so equal elements are exactly events with the same natural key
//! `(identifier, event, timestamp, value, metadata)` (`collected_at` is ignored). Residual risk, as
//! with the `SELECT DISTINCT` this replaces: two genuinely distinct events with the same identity,
//! name, millisecond, value and properties are merged into one (and, as for `DISTINCT` on several
//! string columns, ClickHouse compares the tuples by a 128-bit hash, so a hash collision would
//! merge two events too; negligible). Exposures are insensitive to duplicates (`argMin`, `min`,
//! `uniqExact`).
//!
//! # Example
//! The two-metric scope of `fixtures::scope` (conversion within 7 days for plans `pro`/`team`, and
//! mean `amount`), as in `snapshots/metrics.sql` (which also lists the parameter texts):
//!
//! ```sql
//! WITH
//! identities AS (
//!     SELECT
//!         identifier,
//!         argMinIf(value, (timestamp, value),
//!             (event = {p3:String} AND feature_name = {p4:String} AND timestamp <= {p6:DateTime64(3, 'UTC')}) AS is_exposure) AS variant,
//!         minIf(timestamp, is_exposure) AS first_exposure,
//!         uniqExactIf(value, is_exposure) AS variants_seen,
//!         arrayDistinct(groupArrayIf(
//!             CAST((timestamp, value, metadata) AS Tuple(timestamp DateTime64(3, 'UTC'), value String, metadata String)) AS metric_event,
//!             event = {p11:String})) AS events_0
//!     FROM {p0:Identifier}.{p1:Identifier}
//!     WHERE environment_key = {p2:String}
//!         AND (event = {p3:String} OR event IN {p9:Array(String)})
//!         AND timestamp >= {p5:DateTime64(3, 'UTC')}
//!         AND timestamp <= {p10:DateTime64(3, 'UTC')}
//!     GROUP BY identifier
//! ),
//! entity_metrics AS (
//!     SELECT
//!         a.variant AS variant,
//!         [
//!             toFloat64(arrayExists(e -> e.timestamp >= a.first_exposure
//!                 AND e.timestamp < a.first_exposure + toIntervalSecond({p12:Int64})
//!                 AND (JSONType(e.metadata, {p13:String}) = 'String' AND has({p14:Array(String)}, JSONExtractString(e.metadata, {p13:String}))), a.events_0)),
//!             if(empty(arrayFilter(x -> isFinite(x), arrayMap(e -> if(e.timestamp >= a.first_exposure
//!                 AND e.timestamp <= {p6:DateTime64(3, 'UTC')},
//!                 ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p15:String}))), nan), nan), a.events_0)) AS m1_values), NULL, arrayAvg(m1_values))
//!         ] AS metric_values
//!     FROM identities AS a
//!     WHERE a.variants_seen >= 1 AND has([{p7:String}, {p8:String}], a.variant)
//! )
//! SELECT
//!     toUInt32(metric_index - 1) AS metric,
//!     variant,
//!     count() AS n,
//!     sum(assumeNotNull(metric_value)) AS sum,
//!     sum(assumeNotNull(metric_value) * assumeNotNull(metric_value)) AS sum_sq
//! FROM entity_metrics
//! ARRAY JOIN
//!     metric_values AS metric_value,
//!     arrayEnumerate(metric_values) AS metric_index
//! WHERE metric_value IS NOT NULL
//! GROUP BY metric, variant
//! ORDER BY metric, indexOf([{p7:String}, {p8:String}], variant)
//! ```

mod cluster;
mod entity_metrics;
mod error;
mod exposures;
mod filter;
mod identities;
mod metrics;
mod param;
mod probe;
mod property;
mod query;
mod scope;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod invariants;
#[cfg(test)]
mod snapshots;

pub use error::CompileError;
pub use exposures::compile_exposures;
pub use metrics::compile_metrics;
pub use param::ParamValue;
pub use probe::compile_exposure_probe;
pub use query::CompiledQuery;
pub use scope::{EventsTable, MetricSpec, MultipleExposureHandling, Placement, ResultsScope};
