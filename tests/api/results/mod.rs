//! Experiment results over a real ClickHouse events table (the local engine `scripts/test` starts):
//! exact per-variant numbers from hand-made events (`exact_numbers`), verdicts, intervals and the
//! sample-ratio check on generated data (`judged`), one warehouse query per part asked
//! (`laziness`), frozen and refreshed snapshots (`snapshots`), warehouse connections
//! (`connections`), unreachable or hung warehouses (`failures`), hostile metric definitions
//! (`hostile`), addresses connections may not reach (`egress`), one tenant's hung warehouse
//! beside another's (`tenants`), TCP connections reused across requests (`pooling`) and results
//! on a two-shard cluster equal to one table's (`cluster`), verdicts under the experiment's own α
//! and minimums (`settings`); CUPED's covariate sums against the event list (`cuped`); every
//! number of a comparison under each analysis setting against gbstats 0.8.0 and GrowthBook's
//! corrections (`judged_numbers`); snapshot format 2 against the live results, and a stored
//! format-1 snapshot still reading (`judged_snapshots`); each health check firing (`health`), each
//! recommendation (`recommendations`) and the power of primary metrics (`power`); funnels and
//! capped metrics (`funnel_capping`), funnels on random event orders against a reference
//! (`funnel_orders`), PERCENTILE caps on random values against a reference (`pooled_caps`); RATIO metrics' numbers against gbstats 0.8.0 (`ratio`);
//! QUANTILE metrics against gbstats 0.8.0 (`quantile`); `previewMetric`'s numbers, warnings and
//! rules (`preview`); results of each attachment's pinned metric version (`versions`); with the
//! experiments and event sets they share in `arms`. `support` holds what they share;
//! `crate::clickhouse` makes the events tables.
//!
//! Time is arranged by starting an experiment through the API and then moving its `started_at`
//! back 10 days in the database, so events sit at fixed offsets from the start.

mod arms;
mod cluster;
mod connections;
mod cuped;
mod egress;
mod exact_numbers;
mod failures;
mod funnel_capping;
mod funnel_orders;
mod health;
mod hostile;
mod judged;
mod judged_numbers;
mod judged_snapshots;
mod laziness;
mod pooled_caps;
mod pooling;
mod power;
mod preview;
mod preview_model;
mod quantile;
mod ratio;
mod recommendations;
mod settings;
mod snapshots;
pub(crate) mod support;
mod tenants;
mod versions;
