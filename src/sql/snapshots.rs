//! Golden files: the full compiled SQL of representative scopes, with the text of every parameter,
//! kept in `src/sql/snapshots/*.sql`. After an intended change, regenerate them with
//! `UPDATE_SNAPSHOTS=1 cargo test --lib sql` and review the diff.
//!
//! The files are also what the engine check runs: each is the SQL followed by `-- pN = text`
//! lines, the exact text to send for each parameter.

use std::path::PathBuf;

use super::fixtures::{
    every_kind_scope, funnel_capping_scope, preview_scope, quantile_scope, ratio_scope, scope,
    with_cuped,
};
use super::scope::{EventsTableKind, MultipleExposureHandling, Placement, ResultsScope};
use super::{
    compile_exposure_probe, compile_exposures, compile_metrics, compile_preview, CompiledQuery,
};

fn rendered(query: &CompiledQuery) -> String {
    let mut text = query.sql.clone();
    text.push('\n');
    for (name, value) in &query.params {
        text.push_str(&format!("-- {name} = {}\n", value.to_clickhouse_text()));
    }
    text
}

fn check(file: &str, query: CompiledQuery) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/sql/snapshots")
        .join(file);
    let actual = rendered(&query);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &actual).expect("write the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{file} differs from the compiled SQL (UPDATE_SNAPSHOTS=1 regenerates it):\n{actual}"
    );
}

#[test]
fn the_two_metric_scope_compiles_to_its_snapshot() {
    check(
        "metrics.sql",
        compile_metrics(&scope(), EventsTableKind::Deduplicating).unwrap(),
    );
    check(
        "metrics_plain_table.sql",
        compile_metrics(&scope(), EventsTableKind::Plain).unwrap(),
    );
}

#[test]
fn every_metric_kind_compiles_to_its_snapshot() {
    check(
        "metrics_every_kind.sql",
        compile_metrics(&every_kind_scope(), EventsTableKind::Deduplicating).unwrap(),
    );
}

#[test]
fn funnels_and_caps_compile_to_their_snapshots() {
    check(
        "metrics_funnel_capping.sql",
        compile_metrics(&funnel_capping_scope(), EventsTableKind::Deduplicating).unwrap(),
    );
    check(
        "metrics_funnel_capping_cuped_plain_table.sql",
        compile_metrics(&with_cuped(funnel_capping_scope()), EventsTableKind::Plain).unwrap(),
    );
}

#[test]
fn a_ratio_metric_compiles_to_its_snapshots() {
    check(
        "metrics_ratio.sql",
        compile_metrics(&ratio_scope(), EventsTableKind::Deduplicating).unwrap(),
    );
    check(
        "metrics_ratio_cuped_plain_table.sql",
        compile_metrics(&with_cuped(ratio_scope()), EventsTableKind::Plain).unwrap(),
    );
    check(
        "metrics_ratio_cluster.sql",
        compile_metrics(&sharded(ratio_scope()), EventsTableKind::Deduplicating).unwrap(),
    );
}

#[test]
fn quantile_metrics_compile_to_their_snapshots() {
    check(
        "metrics_quantile.sql",
        compile_metrics(&quantile_scope(), EventsTableKind::Deduplicating).unwrap(),
    );
    check(
        "metrics_quantile_cuped_plain_table.sql",
        compile_metrics(&with_cuped(quantile_scope()), EventsTableKind::Plain).unwrap(),
    );
}

#[test]
fn quantile_metrics_are_refused_on_a_cluster() {
    assert_eq!(
        compile_metrics(&sharded(quantile_scope()), EventsTableKind::Plain),
        Err(super::CompileError::QuantileOnCluster)
    );
}

#[test]
fn with_cuped_the_metrics_compile_to_their_snapshots() {
    check(
        "metrics_cuped.sql",
        compile_metrics(&with_cuped(scope()), EventsTableKind::Deduplicating).unwrap(),
    );
    check(
        "metrics_cuped_plain_table.sql",
        compile_metrics(&with_cuped(scope()), EventsTableKind::Plain).unwrap(),
    );
    check(
        "metrics_cuped_every_kind.sql",
        compile_metrics(
            &with_cuped(every_kind_scope()),
            EventsTableKind::Deduplicating,
        )
        .unwrap(),
    );
    check(
        "metrics_cuped_cluster.sql",
        compile_metrics(&sharded(with_cuped(scope())), EventsTableKind::Plain).unwrap(),
    );
}

#[test]
fn exposures_compile_to_their_snapshots() {
    check("exposures.sql", compile_exposures(&scope()).unwrap());
    let mut exclude = scope();
    exclude.handling = MultipleExposureHandling::Exclude;
    check(
        "exposures_exclude.sql",
        compile_exposures(&exclude).unwrap(),
    );
}

#[test]
fn the_probe_compiles_to_its_snapshot() {
    let s = scope();
    check(
        "probe.sql",
        compile_exposure_probe(&s.table, &s.environment_key, &s.exposure_event),
    );
}

/// The fixture scope over a two-shard cluster's local tables.
fn sharded(mut scope: ResultsScope) -> ResultsScope {
    scope.table.placement = Placement::Cluster("lift_two_shards".into());
    scope
}

#[test]
fn on_a_cluster_each_query_runs_per_shard_and_merges_per_variant() {
    check(
        "metrics_cluster.sql",
        compile_metrics(&sharded(scope()), EventsTableKind::Deduplicating).unwrap(),
    );
    check(
        "exposures_cluster.sql",
        compile_exposures(&sharded(scope())).unwrap(),
    );
    let s = sharded(scope());
    check(
        "probe_cluster.sql",
        compile_exposure_probe(&s.table, &s.environment_key, &s.exposure_event),
    );
}

#[test]
fn a_preview_compiles_to_its_snapshots() {
    check(
        "preview.sql",
        compile_preview(&preview_scope(), EventsTableKind::Deduplicating).unwrap(),
    );
    check(
        "preview_plain_table.sql",
        compile_preview(&preview_scope(), EventsTableKind::Plain).unwrap(),
    );
    let mut event_value = preview_scope();
    event_value.definition.value = Some(crate::domain::metric::ValueSource::EventValue);
    event_value.table.placement = Placement::Cluster("lift_two_shards".into());
    check(
        "preview_event_value_cluster.sql",
        compile_preview(&event_value, EventsTableKind::Deduplicating).unwrap(),
    );
}

#[test]
fn the_module_doc_shows_the_two_metric_snapshot() {
    let doc: String = include_str!("mod.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    let sql = compile_metrics(&scope(), EventsTableKind::Deduplicating)
        .unwrap()
        .sql;
    assert!(
        doc.contains(&format!("```sql\n{sql}```")),
        "paste the SQL of snapshots/metrics.sql into the doc of src/sql/mod.rs"
    );
}
