//! Properties every compiled query keeps, whatever the scope: values travel only as parameters,
//! and the events table is read once per query (for the exposures, and for all metrics together).
//! That the compiler stays pure is `tests/architecture.rs`'s to check.

use super::fixtures::{every_kind_scope, filter, metric, param, scope};
use super::param::ParamValue;
use super::scope::{Placement, ResultsScope};
use super::{compile_exposure_probe, compile_exposures, compile_metrics, CompiledQuery};
use crate::domain::metric::{Aggregation, FilterOp, FilterValue, ValueSource};

const HOSTILE: &str = "x'; DROP TABLE events; -- \\' \\\\ \" ` {p0:String} $1 ? \n\t)";

/// `every_kind_scope` with a distinct hostile text in every field a user or an SDK controls
/// (metrics that share an event name still share it: the text depends on which names are equal).
fn hostile_scope() -> ResultsScope {
    let h = |field: &str| format!("{field}{HOSTILE}");
    let mut s = every_kind_scope();
    s.table.database = "db; DROP TABLE x -- {p0:String} ?".into();
    s.table.table = "events) UNION ALL SELECT 1 --".into();
    s.environment_key = h("env");
    s.feature_name = h("feature");
    s.exposure_event = h("exposure");
    s.variants = vec![h("control"), h("treatment")];
    for (i, spec) in s.metrics.iter_mut().enumerate() {
        spec.definition.event = h(&spec.definition.event);
        if let Some(ValueSource::Property { property }) = &mut spec.definition.value {
            *property = h(&format!("value{i}"));
        }
        for (j, f) in spec.definition.filters.iter_mut().enumerate() {
            f.property = h(&format!("property{i}.{j}"));
            f.value = match f.value.take() {
                Some(FilterValue::String(_)) => Some(FilterValue::String(h("string"))),
                Some(FilterValue::StringList(_)) => {
                    Some(FilterValue::StringList(vec![h("a"), h("b")]))
                }
                other => other,
            };
        }
    }
    s
}

fn all_queries(s: &ResultsScope) -> Vec<CompiledQuery> {
    vec![
        compile_exposures(s).unwrap(),
        compile_metrics(s).unwrap(),
        compile_exposure_probe(&s.table, &s.environment_key, &s.exposure_event),
    ]
}

fn strings_sent(query: &CompiledQuery) -> Vec<String> {
    let mut sent = Vec::new();
    for (_, value) in &query.params {
        match value {
            ParamValue::String(s) => sent.push(s.clone()),
            ParamValue::StringArray(items) => sent.extend(items.iter().cloned()),
            _ => {}
        }
    }
    sent
}

#[test]
fn hostile_values_travel_only_as_parameters() {
    let s = hostile_scope();
    let benign = every_kind_scope();
    for (hostile, plain) in all_queries(&s).iter().zip(all_queries(&benign)) {
        // The text does not depend on the values at all…
        assert_eq!(hostile.sql, plain.sql);
        for marker in [
            "DROP", "UNION", "--", ";", "\\", "`", "$1", "?", "\t", "\")",
        ] {
            assert!(
                !hostile.sql.contains(marker),
                "{marker:?} in\n{}",
                hostile.sql
            );
        }
        // …and the values arrive verbatim as parameters.
        let sent = strings_sent(hostile);
        assert!(sent.contains(&s.environment_key), "{sent:?}");
        assert!(sent.contains(&s.table.table));
        assert!(sent.contains(&s.table.database));
    }
    let sent = strings_sent(&compile_metrics(&s).unwrap());
    let mut expected = vec![s.feature_name.clone(), s.exposure_event.clone()];
    expected.extend(s.variants.iter().cloned());
    for spec in &s.metrics {
        expected.push(spec.definition.event.clone());
        if let Some(ValueSource::Property { property }) = &spec.definition.value {
            expected.push(property.clone());
        }
        for f in &spec.definition.filters {
            expected.push(f.property.clone());
            match &f.value {
                Some(FilterValue::String(v)) => expected.push(v.clone()),
                Some(FilterValue::StringList(items)) => expected.extend(items.iter().cloned()),
                _ => {}
            }
        }
    }
    for value in expected {
        assert!(sent.contains(&value), "{value:?} was not sent verbatim");
    }
}

#[test]
fn a_hostile_cluster_name_travels_only_as_a_parameter() {
    let on = |cluster: &str| {
        let mut s = every_kind_scope();
        s.table.placement = Placement::Cluster(cluster.to_owned());
        all_queries(&s)
    };
    for (hostile, plain) in on(HOSTILE).iter().zip(on("analytics")) {
        assert_eq!(hostile.sql, plain.sql);
        assert!(hostile.sql.contains("FROM cluster({p"), "{}", hostile.sql);
        assert!(strings_sent(hostile).contains(&HOSTILE.to_owned()));
        assert!(!hostile.sql.contains('?'), "{}", hostile.sql);
    }
}

#[test]
fn on_a_cluster_the_events_table_is_still_read_once_per_query() {
    let mut s = every_kind_scope();
    s.table.placement = Placement::Cluster("analytics".into());
    for query in all_queries(&s) {
        let sql = &query.sql;
        assert_eq!(occurrences(sql, "FROM {p0:Identifier}.{p1:Identifier}"), 1);
        assert_eq!(occurrences(sql, "FROM cluster("), 1);
    }
}

#[test]
fn the_sql_has_no_question_marks_the_client_would_take_for_bind_slots() {
    for query in all_queries(&every_kind_scope()) {
        assert!(!query.sql.contains('?'), "{}", query.sql);
    }
}

fn occurrences(sql: &str, needle: &str) -> usize {
    sql.matches(needle).count()
}

#[test]
fn each_query_reads_the_events_table_once() {
    let one = compile_metrics(&scope()).unwrap().sql;
    let many = compile_metrics(&every_kind_scope()).unwrap().sql;
    for sql in [&one, &many] {
        assert_eq!(occurrences(sql, "{p0:Identifier}.{p1:Identifier}"), 1);
        assert_eq!(occurrences(sql, "FROM {p0:Identifier}.{p1:Identifier}"), 1);
        // Each CTE is used exactly once: ClickHouse inlines CTEs, so a second use would be a
        // second evaluation (and a second read).
        assert_eq!(occurrences(sql, " AS (\n"), 2);
        for usage in ["FROM identities AS a\n", "FROM entity_metrics\n"] {
            assert_eq!(occurrences(sql, usage), 1, "{usage:?}");
        }
    }
    let exposures = compile_exposures(&every_kind_scope()).unwrap().sql;
    assert_eq!(
        occurrences(&exposures, "{p0:Identifier}.{p1:Identifier}"),
        1
    );
    assert_eq!(occurrences(&exposures, "FROM exposures\n"), 1);
}

#[test]
fn identities_are_scanned_with_every_metric_event_and_up_to_the_longest_window() {
    let query = compile_metrics(&every_kind_scope()).unwrap();
    assert!(query
        .sql
        .contains("AND (event = {p3:String} OR event IN {p9:Array(String)})"));
    assert_eq!(
        param(&query, "p9"),
        &ParamValue::StringArray(vec!["signup".into(), "page_view".into(), "purchase".into()])
    );
    // The longest window ends 3 days after exposure: events up to 3 days past the end count.
    assert!(query
        .sql
        .contains("AND timestamp <= {p10:DateTime64(3, 'UTC')}"));
    let s = every_kind_scope();
    assert_eq!(
        param(&query, "p10"),
        &ParamValue::DateTime64(s.end + chrono::Duration::days(3))
    );
    // One deduplicated array per distinct event name, in first-use order.
    for (k, name) in ["signup", "page_view", "purchase"].into_iter().enumerate() {
        let placeholder = format!("{{p{}:String}}", 11 + k);
        assert_eq!(
            param(&query, &format!("p{}", 11 + k)),
            &ParamValue::String(name.into())
        );
        assert_eq!(
            occurrences(
                &query.sql,
                &format!("event = {placeholder})) AS events_{k}")
            ),
            1
        );
    }
    assert_eq!(occurrences(&query.sql, "arrayDistinct(groupArrayIf("), 3);
    // signup: metric 0; page_view: metric 1; purchase: metrics 2, 3 and 4.
    for (k, metrics) in [1, 1, 3].into_iter().enumerate() {
        assert_eq!(occurrences(&query.sql, &format!("a.events_{k})")), metrics);
    }
}

#[test]
fn without_windows_past_the_end_the_scan_stops_at_the_end() {
    let mut s = scope();
    s.metrics = vec![metric(Aggregation::Count, "purchase", None, None, vec![])];
    let query = compile_metrics(&s).unwrap();
    assert!(query
        .sql
        .contains("AND timestamp <= {p6:DateTime64(3, 'UTC')}\n    GROUP BY identifier"));
    assert!(!query
        .params
        .iter()
        .any(|(n, v)| n != "p5" && n != "p6" && matches!(v, ParamValue::DateTime64(_))));
}

#[test]
fn a_scope_without_metrics_or_with_a_broken_metric_is_refused() {
    use super::CompileError;
    let mut s = scope();
    s.metrics.clear();
    assert_eq!(compile_metrics(&s), Err(CompileError::NoMetrics));
    let broken = [
        metric(Aggregation::Sum, "purchase", None, None, vec![]),
        metric(
            Aggregation::Count,
            "purchase",
            Some(ValueSource::EventValue),
            None,
            vec![],
        ),
        metric(Aggregation::Count, "", None, None, vec![]),
        metric(
            Aggregation::Count,
            "purchase",
            None,
            Some((-1, None)),
            vec![],
        ),
        metric(
            Aggregation::Count,
            "purchase",
            None,
            Some((60, Some(60))),
            vec![],
        ),
        metric(
            Aggregation::Count,
            "purchase",
            None,
            None,
            vec![filter(
                "plan",
                FilterOp::Gt,
                Some(FilterValue::String("a".into())),
            )],
        ),
    ];
    for spec in broken {
        let mut s = scope();
        s.metrics.push(spec.clone());
        assert!(
            matches!(
                compile_metrics(&s),
                Err(CompileError::InvalidMetric { metric: 2, .. })
            ),
            "{spec:?}"
        );
    }
    let mut s = scope();
    s.metrics.push(metric(
        Aggregation::Count,
        "x",
        None,
        Some((0, Some(i64::MAX))),
        vec![],
    ));
    assert_eq!(compile_metrics(&s), Err(CompileError::WindowOutOfRange));
}
