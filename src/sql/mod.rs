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
//!   one row per (metric index, variant) with `n > 0`; with CUPED (`ResultsScope::cuped_lookback`)
//!   also `sum_x, sum_x2, sum_xy Nullable(Float64)`, the covariate's sums (`covariates.rs`);
//!   always `den_sum, den_sum_sq, num_den_sum Nullable(Float64)`, a RATIO metric's denominator
//!   sums (`ratio.rs`; NULL for other metrics); then `step_reached Array(UInt64)` (funnels'
//!   identities per step, `funnel.rs`), `capped_identities UInt64`, `cap_upper, cap_lower
//!   Nullable(Float64)` (capped metrics, `capping.rs`), empty, 0 or NULL for metrics of other kinds.
//! - [`compile_exposure_probe`] → `exposures UInt64`.
//! - [`compile_preview`] → one row of what a metric definition would read from an environment's
//!   recent events, before it is saved (`preview.rs`; one read of the events table).
//!
//! # Pipeline (one CTE per concept, PostHog-style)
//! Metrics: `assignments` (the exposure rows grouped by `identifier`: the identity's assignment,
//! i.e. first variant, first exposure time, whether it saw several variants; only identities that
//! count) and `metric_events` (the events of every metric, each once, with per metric a filter
//! result and a number computed from `value`/`metadata`) → `identities`, the per-identity stage:
//! the events joined to their identity's assignment (`RIGHT JOIN` on the identifier's
//! `sipHash128`, the assignments being the hash table) and grouped by identity with plain combinators (`countIf`, `sumIf`, `avgOrNullIf`), one
//! column per metric (a funnel's level: its steps reached in order) → with capped metrics
//! `capped` (each value clamped; PERCENTILE caps are window quantiles over all identities) → per
//! variant `count`/`sum` of every metric's column, spread to one row per
//! (metric, variant) with `ARRAY JOIN`. Exposures: `exposures` (the same assignment aggregates over
//! the same key range) → one row per variant. Semantics are documented where they are built:
//! `exposures.rs` (assignment, FIRST_TOUCH/EXCLUDE, unknown variants; shared by both queries),
//! `metric_events.rs` (what is read, deduplication per table kind), `identities.rs` (the join),
//! `metric_values.rs` (windows, per-aggregation values, NULLs), `covariates.rs` (CUPED: the same
//! values before exposure, MEAN and RATIO excluded), `ratio.rs` (a ratio's numerator and
//! denominator per identity, counted when the denominator is > 0), `funnel.rs` (step order,
//! equal timestamps), `capping.rs` (cap values, GrowthBook's quantile, the covariate's caps),
//! `filter.rs` and `property.rs` (typed property reads).
//!
//! # Reads
//! ClickHouse inlines CTEs: a CTE used twice is evaluated twice. So each CTE here is used exactly
//! once (a test checks it), and each key range of the events table is read once per query whatever
//! the number of metrics: the exposures query reads `(environment, exposure event, feature)`, the
//! metrics query that range (`assignments`) and the metric events' (`event IN [...]`,
//! `metric_events`), all on the table's sort-key prefix.
//!
//! # Cost and memory
//! An identity costs the per-identity stage a few numbers (its assignment in the join's hash table,
//! its aggregates in the `GROUP BY`), whatever its events; no per-identity array or set (except
//! the times of the events of a funnel's middle steps, see `funnel.rs`, and an event quantile's
//! values, see `quantile.rs`), and the `metadata` text never leaves the scan. A PERCENTILE cap
//! keeps each identity's value per variant, not the identity's row (`capping.rs`), and an event
//! quantile its values (`quantile.rs`): no window runs over identities, since a window holds its
//! whole partition in memory and never spills (`sql::invariants` checks it). So time and memory grow with the identities, like the
//! per-identity floor (one `GROUP BY identifier` computing the assignment), not with events ×
//! metadata as the earlier per-identity arrays of events did. The warehouse client
//! (`warehouse::query_settings`) makes each big stage spill to disk rather than fail: the
//! `GROUP BY`s past half of `max_memory_usage` (`max_bytes_before_external_group_by`), the join
//! past a quarter (a grace hash join, split into buckets on disk past `max_bytes_in_join`; below
//! it, an in-memory hash join) (figures: `benches/results.md`).
//!
//! # Clusters
//! With [`Placement::Cluster`] the table is each shard's local table, and every query above runs
//! as it is on every shard (an identity's events all live on one shard) inside
//! `cluster({pN:String}, view(…))`; the initiator only adds up the per-variant counts and sums
//! (`cluster.rs`). One-server SQL is unchanged. A PERCENTILE cap (a quantile over every identity)
//! cannot be added up, so it is refused on a cluster (`CompileError::NotOnCluster`, a CONFLICT).
//!
//! # Duplicates
//! At-least-once delivery duplicates (same natural key `(identifier, event, feature_name,
//! timestamp, value, metadata)` in the environment; `collected_at` ignored) are counted once. How
//! depends on the table ([`EventsTableKind`], read by the warehouse from `system.tables`): the
//! table lift creates is a `ReplacingMergeTree` on the natural key read with `FINAL`; any other is
//! grouped by the natural key while reading. Exposures are insensitive to duplicates (`argMin`,
//! `min`, `max`) and are read without either.
//!
//! # Example
//! The two-metric scope of `fixtures::scope` (conversion within 7 days for plans `pro`/`team`, and
//! mean `amount`) on the deduplicating table, as in `snapshots/metrics.sql` (which also lists the
//! parameter texts; `snapshots/metrics_plain_table.sql` is the same scope on any other table):
//!
//! ```sql
//! WITH
//! assignments AS (
//!     SELECT
//!         sipHash128(identifier) AS key,
//!         argMin(value, (timestamp, value)) AS variant,
//!         min(timestamp) AS first_exposure,
//!         min(value) != max(value) AS several_variants,
//!         indexOf([{p7:String}, {p8:String}], variant) AS variant_index,
//!         rowNumberInAllBlocks() AS identity
//!     FROM {p0:Identifier}.{p1:Identifier}
//!     WHERE environment_key = {p2:String}
//!         AND event = {p3:String}
//!         AND feature_name = {p4:String}
//!         AND timestamp >= {p5:DateTime64(3, 'UTC')}
//!         AND timestamp <= {p6:DateTime64(3, 'UTC')}
//!     GROUP BY identifier
//!     HAVING has([{p7:String}, {p8:String}], variant)
//! ),
//! metric_events AS (
//!     SELECT
//!         sipHash128(e.identifier) AS key,
//!         e.event AS event,
//!         e.timestamp AS timestamp,
//!         (e.event = {p11:String}
//!             AND (JSONType(e.metadata, {p13:String}) = 'String' AND has({p14:Array(String)}, JSONExtractString(e.metadata, {p13:String})))) AS c0,
//!         (if(e.event = {p11:String}, ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p15:String}))), nan), nan)) AS c1
//!     FROM {p0:Identifier}.{p1:Identifier} AS e FINAL
//!     WHERE e.environment_key = {p2:String}
//!         AND e.event IN {p9:Array(String)}
//!         AND e.timestamp >= {p5:DateTime64(3, 'UTC')}
//!         AND e.timestamp <= {p10:DateTime64(3, 'UTC')}
//! ),
//! identities AS (
//!     SELECT
//!         any(a.variant_index) AS variant_index,
//!         toFloat64(countIf(e.event = {p11:String}
//!             AND e.timestamp >= a.first_exposure
//!             AND e.timestamp < a.first_exposure + toIntervalSecond({p12:Int64})
//!             AND e.c0) > 0) AS m0,
//!         avgOrNullIf(e.c1, e.event = {p11:String}
//!             AND e.timestamp >= a.first_exposure
//!             AND e.timestamp <= {p6:DateTime64(3, 'UTC')}
//!             AND isFinite(e.c1)) AS m1
//!     FROM metric_events AS e
//!     RIGHT JOIN assignments AS a ON e.key = a.key
//!     GROUP BY a.identity
//! )
//! SELECT
//!     toUInt32(metric_index - 1) AS metric,
//!     arrayElement([{p7:String}, {p8:String}], variant_index) AS variant,
//!     n,
//!     sum,
//!     sum_sq,
//!     den_sum,
//!     den_sum_sq,
//!     num_den_sum,
//!     step_reached,
//!     capped_identities,
//!     cap_upper,
//!     cap_lower,
//!     quantile_level,
//!     if(isNull(quantile_level), NULL, toUInt64(length(quantile_values))) AS quantile_n,
//!     if(isNull(quantile_level), NULL, toUInt64(greatest(100, arrayMax(arrayFilter(g -> g < length(quantile_values), [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 102400, 204800, 409600, 819200, 1638400, 3276800, 6553600, 13107200, 26214400, 52428800]))))) AS quantile_nstar,
//!     if(empty(quantile_values), NULL, arrayElement(quantile_values, toUInt64(floor(((greatest(length(quantile_values), 1) - 1) * quantile_level) AS quantile_h)) + 1) + (quantile_h - floor(quantile_h)) * (arrayElement(quantile_values, least(toUInt64(floor(quantile_h)) + 2, length(quantile_values))) - arrayElement(quantile_values, toUInt64(floor(quantile_h)) + 1))) AS quantile,
//!     if(empty(quantile_values), NULL, arrayElement(quantile_values, toUInt64(floor(((greatest(length(quantile_values), 1) - 1) * greatest(quantile_level - 1.959963984540054 * sqrt(quantile_level * (1 - quantile_level) / quantile_nstar), 0.00000001)) AS quantile_h_lower)) + 1) + (quantile_h_lower - floor(quantile_h_lower)) * (arrayElement(quantile_values, least(toUInt64(floor(quantile_h_lower)) + 2, length(quantile_values))) - arrayElement(quantile_values, toUInt64(floor(quantile_h_lower)) + 1))) AS quantile_lower,
//!     if(empty(quantile_values), NULL, arrayElement(quantile_values, toUInt64(floor(((greatest(length(quantile_values), 1) - 1) * least(quantile_level + 1.959963984540054 * sqrt(quantile_level * (1 - quantile_level) / quantile_nstar), 0.99999999)) AS quantile_h_upper)) + 1) + (quantile_h_upper - floor(quantile_h_upper)) * (arrayElement(quantile_values, least(toUInt64(floor(quantile_h_upper)) + 2, length(quantile_values))) - arrayElement(quantile_values, toUInt64(floor(quantile_h_upper)) + 1))) AS quantile_upper,
//!     quantile_main_sum,
//!     quantile_main_sum_sq,
//!     quantile_main_den_sum,
//!     quantile_den_sum_sq
//! FROM (
//!     SELECT
//!         variant_index,
//!         [count(m0), count(m1)] AS n_by_metric,
//!         [sum(ifNull(m0, 0)), sum(ifNull(m1, 0))] AS sum_by_metric,
//!         [sum(ifNull(m0 * m0, 0)), sum(ifNull(m1 * m1, 0))] AS sum_sq_by_metric,
//!         CAST([NULL, NULL] AS Array(Nullable(Float64))) AS den_sum_by_metric,
//!         CAST([NULL, NULL] AS Array(Nullable(Float64))) AS den_sum_sq_by_metric,
//!         CAST([NULL, NULL] AS Array(Nullable(Float64))) AS num_den_sum_by_metric,
//!         CAST([[], []] AS Array(Array(UInt64))) AS step_reached_by_metric,
//!         CAST([0, 0] AS Array(UInt64)) AS capped_by_metric,
//!         CAST([NULL, NULL] AS Array(Nullable(Float64))) AS cap_upper_by_metric,
//!         CAST([NULL, NULL] AS Array(Nullable(Float64))) AS cap_lower_by_metric,
//!         CAST([[], []] AS Array(Array(Float64))) AS quantile_values_by_metric,
//!         CAST([NULL, NULL] AS Array(Nullable(Float64))) AS quantile_level_by_metric,
//!         CAST([NULL, NULL] AS Array(Nullable(Float64))) AS quantile_main_sum_by_metric,
//!         CAST([NULL, NULL] AS Array(Nullable(Float64))) AS quantile_main_sum_sq_by_metric,
//!         CAST([NULL, NULL] AS Array(Nullable(Float64))) AS quantile_main_den_sum_by_metric,
//!         CAST([NULL, NULL] AS Array(Nullable(Float64))) AS quantile_den_sum_sq_by_metric
//!     FROM identities
//!     GROUP BY variant_index
//! )
//! ARRAY JOIN
//!     n_by_metric AS n,
//!     sum_by_metric AS sum,
//!     sum_sq_by_metric AS sum_sq,
//!     den_sum_by_metric AS den_sum,
//!     den_sum_sq_by_metric AS den_sum_sq,
//!     num_den_sum_by_metric AS num_den_sum,
//!     step_reached_by_metric AS step_reached,
//!     capped_by_metric AS capped_identities,
//!     cap_upper_by_metric AS cap_upper,
//!     cap_lower_by_metric AS cap_lower,
//!     quantile_values_by_metric AS quantile_values,
//!     quantile_level_by_metric AS quantile_level,
//!     quantile_main_sum_by_metric AS quantile_main_sum,
//!     quantile_main_sum_sq_by_metric AS quantile_main_sum_sq,
//!     quantile_main_den_sum_by_metric AS quantile_main_den_sum,
//!     quantile_den_sum_sq_by_metric AS quantile_den_sum_sq,
//!     arrayEnumerate(n_by_metric) AS metric_index
//! WHERE n > 0
//! ORDER BY metric, variant_index
//! SETTINGS do_not_merge_across_partitions_select_final = 1
//! ```

mod capping;
mod cluster;
mod covariates;
mod error;
mod exposures;
mod filter;
mod funnel;
mod identities;
mod metric_events;
mod metric_values;
mod metrics;
mod param;
mod preview;
mod probe;
mod property;
mod quantile;
mod query;
mod ratio;
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
pub use preview::{compile_preview, PreviewScope};
pub use probe::compile_exposure_probe;
pub use query::CompiledQuery;
pub use scope::{
    EventsTable, EventsTableKind, MetricSpec, MultipleExposureHandling, Placement, ResultsScope,
};
