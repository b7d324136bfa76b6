//! The ClickHouse SQL compiler: an experiment's scope and metrics in, parameterised SQL out.
//!
//! **Invariant:** pure and deterministic: no IO, and no tokio, sea_orm, async_graphql or clickhouse
//! (a test checks the imports). **Invariant:** no value of the scope is ever written into the SQL
//! text; every one (environment, feature, exposure event, variant keys, event and property names,
//! filter values, times, database and table names) is a server-side parameter `{pN:Type}`, see
//! [`ParamValue`] for how each is sent. The text depends only on the scope's *shape* (number of
//! variants, metrics, filters; aggregations, operators), never on its values.
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
//! `exposures` (per identity: first variant, first exposure time, saw several variants?) →
//! `assignments` (identities that count) ; `metric_events` (the metrics' events, deduplicated) →
//! `entity_events` (events joined to assignments, one column per metric: does it count / its
//! value) → `entity_metrics` (per identity, an array of one value per metric) → final `ARRAY JOIN`
//! of that array and `GROUP BY metric, variant`. Semantics are documented where they are built:
//! `exposures.rs` (assignment, FIRST_TOUCH/EXCLUDE, unknown variants), `entity_metrics.rs`
//! (windows, per-aggregation values, NULLs), `filter.rs` and `property.rs` (typed property reads).
//!
//! # One read per concept
//! ClickHouse inlines CTEs: a CTE used twice is evaluated twice. So each CTE here is used exactly
//! once (a test checks it), and the events table is read twice per metrics query whatever the
//! number of metrics: once for the exposure key range `(environment, exposure event, feature)`
//! and once for all metric events (`event IN [...]`), both on the table's sort-key prefix. The
//! metrics are then per-metric conditional aggregates over that single pass; the join is a
//! `RIGHT JOIN` so that the hash table holds the assignments, not the events. `EXPLAIN` on
//! ClickHouse 26.9 shows two `ReadFromMergeTree` steps for 2 or 5 metrics, one for exposures.
//!
//! # Duplicates
//! At-least-once delivery duplicates are removed with `SELECT DISTINCT` on `(identifier, event,
//! timestamp, value, metadata)` (`collected_at` is ignored). Residual risk: two genuinely
//! distinct events with the same identity, name, millisecond, value and properties are merged
//! into one. Exposures are insensitive to duplicates (`argMin`, `min`, `uniqExact`).
//!
//! # Example
//! The two-metric scope of `fixtures::scope` (conversion within 7 days for plans `pro`/`team`, and
//! mean `amount`), as in `snapshots/metrics.sql` (which also lists the parameter texts):
//!
//! ```sql
//! WITH
//! exposures AS (
//!     SELECT
//!         identifier,
//!         argMin(value, (timestamp, value)) AS variant,
//!         min(timestamp) AS first_exposure,
//!         uniqExact(value) > 1 AS saw_several_variants
//!     FROM {p0:Identifier}.{p1:Identifier}
//!     WHERE environment_key = {p2:String}
//!         AND event = {p3:String}
//!         AND feature_name = {p4:String}
//!         AND timestamp >= {p5:DateTime64(3, 'UTC')}
//!         AND timestamp <= {p6:DateTime64(3, 'UTC')}
//!     GROUP BY identifier
//! ),
//! assignments AS (
//!     SELECT identifier, variant, first_exposure
//!     FROM exposures
//!     WHERE has([{p7:String}, {p8:String}], variant)
//! ),
//! metric_events AS (
//!     SELECT DISTINCT identifier, event, timestamp, value, metadata
//!     FROM {p0:Identifier}.{p1:Identifier}
//!     WHERE environment_key = {p2:String}
//!         AND event IN {p9:Array(String)}
//!         AND timestamp >= {p5:DateTime64(3, 'UTC')}
//!         AND timestamp <= {p10:DateTime64(3, 'UTC')}
//! ),
//! entity_events AS (
//!     SELECT
//!         a.identifier AS identifier,
//!         a.variant AS variant,
//!         (e.event = {p11:String}
//!             AND e.timestamp >= a.first_exposure
//!             AND e.timestamp < a.first_exposure + toIntervalSecond({p12:Int64})
//!             AND (JSONType(e.metadata, {p13:String}) = 'String' AND has({p14:Array(String)}, JSONExtractString(e.metadata, {p13:String})))) AS m0_hit,
//!         if(e.event = {p15:String}
//!             AND e.timestamp >= a.first_exposure
//!             AND e.timestamp <= {p6:DateTime64(3, 'UTC')},
//!             toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p16:String}))), NULL) AS m1_value
//!     FROM metric_events AS e
//!     RIGHT JOIN assignments AS a ON e.identifier = a.identifier
//! ),
//! entity_metrics AS (
//!     SELECT
//!         variant,
//!         [
//!             toFloat64(countIf(m0_hit) > 0),
//!             avgIf(m1_value, isFinite(m1_value))
//!         ] AS metric_values
//!     FROM entity_events
//!     GROUP BY identifier, variant
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

mod entity_metrics;
mod error;
mod exposures;
mod filter;
mod metric_events;
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
pub use scope::{EventsTable, MetricSpec, MultipleExposureHandling, ResultsScope};
