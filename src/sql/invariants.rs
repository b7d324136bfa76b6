//! Properties every compiled query keeps, whatever the scope: values travel only as parameters,
//! and each key range of the events table is read once per query (the exposures query its
//! exposure range; the metrics query the exposure range and, once for all metrics, the metric
//! events' range).
//! That the compiler stays pure is `tests/architecture.rs`'s to check.

use super::fixtures::{
    every_kind_scope, filter, funnel_capping_scope, metric, param, preview_scope, scope, with_cuped,
};
use super::param::ParamValue;
use super::scope::{EventsTableKind, Placement, ResultsScope};
use super::{
    compile_exposure_probe, compile_exposures, compile_metrics, compile_preview, CompiledQuery,
    PreviewScope,
};
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

const KINDS: [EventsTableKind; 2] = [EventsTableKind::Deduplicating, EventsTableKind::Plain];

/// Every query of `s`, the metrics query on both table kinds with and without CUPED.
fn all_queries(s: &ResultsScope) -> Vec<CompiledQuery> {
    let cuped = with_cuped(s.clone());
    vec![
        compile_exposures(s).unwrap(),
        compile_metrics(s, EventsTableKind::Deduplicating).unwrap(),
        compile_metrics(s, EventsTableKind::Plain).unwrap(),
        compile_metrics(&cuped, EventsTableKind::Deduplicating).unwrap(),
        compile_metrics(&cuped, EventsTableKind::Plain).unwrap(),
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
    let sent = strings_sent(&compile_metrics(&s, EventsTableKind::Plain).unwrap());
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
fn on_a_cluster_the_events_table_is_read_as_often_as_on_one_server() {
    let single = every_kind_scope();
    let mut s = every_kind_scope();
    s.table.placement = Placement::Cluster("analytics".into());
    for (query, one_server) in all_queries(&s).iter().zip(all_queries(&single)) {
        let table = "{p0:Identifier}.{p1:Identifier}";
        assert_eq!(
            occurrences(&query.sql, table),
            occurrences(&one_server.sql, table)
        );
        assert_eq!(occurrences(&query.sql, "FROM cluster("), 1);
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
fn each_key_range_is_read_once_per_query() {
    for kind in KINDS {
        for sql in [
            compile_metrics(&scope(), kind).unwrap().sql,
            compile_metrics(&every_kind_scope(), kind).unwrap().sql,
            compile_metrics(&with_cuped(scope()), kind).unwrap().sql,
            compile_metrics(&with_cuped(every_kind_scope()), kind)
                .unwrap()
                .sql,
        ] {
            // The exposure range (assignments), and every metric event's range (metric_events).
            assert_eq!(occurrences(&sql, "{p0:Identifier}.{p1:Identifier}"), 2);
            assert_eq!(occurrences(&sql, "    AND event = {p3:String}\n"), 1);
            assert_eq!(
                occurrences(&sql, "    AND e.event IN {p9:Array(String)}\n"),
                1
            );
            // Each CTE is used exactly once: ClickHouse inlines CTEs, so a second use would be a
            // second evaluation (and a second read).
            assert_eq!(occurrences(&sql, " AS (\n"), 3);
            for usage in [
                "FROM metric_events AS e\n",
                "RIGHT JOIN assignments AS a ON",
                "FROM identities\n",
            ] {
                assert_eq!(occurrences(&sql, usage), 1, "{usage:?}");
            }
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
fn metric_events_are_read_up_to_the_longest_window_each_once_by_table_kind() {
    let s = every_kind_scope();
    let deduplicating = compile_metrics(&s, EventsTableKind::Deduplicating).unwrap();
    let plain = compile_metrics(&s, EventsTableKind::Plain).unwrap();
    for query in [&deduplicating, &plain] {
        assert_eq!(
            param(query, "p9"),
            &ParamValue::StringArray(vec!["signup".into(), "page_view".into(), "purchase".into()])
        );
        // The longest window ends 3 days after exposure: events up to 3 days past the end count.
        assert!(query
            .sql
            .contains("AND e.timestamp <= {p10:DateTime64(3, 'UTC')}\n"));
        assert_eq!(
            param(query, "p10"),
            &ParamValue::DateTime64(s.end + chrono::Duration::days(3))
        );
        // Per-identity values are plain combinators: no arrays or sets per identity.
        for per_identity in ["groupArray", "arrayDistinct", "uniqExact", "groupUniqArray"] {
            assert!(!query.sql.contains(per_identity), "{per_identity}");
        }
        // The metadata is read by the scan only, into typed columns.
        let stage = query.sql.split("identities AS (").nth(1).unwrap();
        assert!(!stage.contains("metadata"), "{stage}");
    }
    // The deduplicating table is read with FINAL; any other is grouped by the natural key.
    assert!(deduplicating.sql.contains("AS e FINAL\n"));
    assert!(deduplicating
        .sql
        .contains("SETTINGS do_not_merge_across_partitions_select_final = 1"));
    assert!(!deduplicating.sql.contains("GROUP BY e.identifier"));
    assert!(!plain.sql.contains("FINAL"));
    assert!(plain.sql.contains(
        "GROUP BY e.identifier, e.event, e.feature_name, e.timestamp, e.value, \
         sipHash128(e.metadata)"
    ));
}

#[test]
fn without_windows_past_the_end_the_scan_stops_at_the_end() {
    let mut s = scope();
    s.metrics = vec![metric(Aggregation::Count, "purchase", None, None, vec![])];
    let query = compile_metrics(&s, EventsTableKind::Deduplicating).unwrap();
    assert!(query
        .sql
        .contains("AND e.timestamp <= {p6:DateTime64(3, 'UTC')}\n"));
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
    assert_eq!(
        compile_metrics(&s, EventsTableKind::Plain),
        Err(CompileError::NoMetrics)
    );
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
                compile_metrics(&s, EventsTableKind::Plain),
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
    assert_eq!(
        compile_metrics(&s, EventsTableKind::Plain),
        Err(CompileError::WindowOutOfRange)
    );
}

/// The body of the CTE `name` of a compiled query.
fn cte<'q>(sql: &'q str, name: &str) -> &'q str {
    let body = sql
        .split(&format!("{name} AS (\n"))
        .nth(1)
        .expect("the CTE");
    body.split("\n)").next().expect("its end")
}

#[test]
fn cuped_starts_the_one_scan_a_lookback_earlier_and_leaves_the_metric_values_as_they_are() {
    for kind in KINDS {
        let s = every_kind_scope();
        let without = compile_metrics(&s, kind).unwrap();
        let with = compile_metrics(&with_cuped(s.clone()), kind).unwrap();
        // The parameters of the query without CUPED keep their numbers and values; the lookback
        // (whole seconds) and the scan's new start come after them.
        let n = without.params.len();
        assert_eq!(with.params[..n], without.params[..]);
        assert_eq!(
            with.params[n..],
            [
                (format!("p{n}"), ParamValue::Int64(14 * 86_400)),
                (
                    format!("p{}", n + 1),
                    ParamValue::DateTime64(s.start - chrono::Duration::days(14))
                ),
            ]
        );
        // The scan reads from the new start instead of the experiment start, still once.
        let scan_start = format!(
            "    AND e.timestamp >= {{p{}:DateTime64(3, 'UTC')}}\n",
            n + 1
        );
        assert_eq!(occurrences(&with.sql, &scan_start), 1, "{}", with.sql);
        assert!(!with
            .sql
            .contains("AND e.timestamp >= {p5:DateTime64(3, 'UTC')}"));
        // Every metric value is unchanged; each metric but MEAN gets a covariate over the
        // lookback before the first exposure, carried columns shared (the scan carries no more).
        let stage = cte(&with.sql, "identities");
        let values = cte(&without.sql, "identities").split("\n    FROM").next();
        assert!(stage.starts_with(values.unwrap_or_default()), "{stage}");
        let carried = |sql: &str| occurrences(cte(sql, "metric_events"), ") AS c");
        assert_eq!(carried(&with.sql), carried(&without.sql));
        assert_eq!(carried(&with.sql), 6);
        let lookback =
            format!("AND e.timestamp >= a.first_exposure - toIntervalSecond({{p{n}:Int64}})\n");
        assert_eq!(occurrences(stage, &lookback), 4, "{stage}");
        let before_exposure = occurrences(stage, "AND e.timestamp < a.first_exposure")
            - occurrences(stage, "AND e.timestamp < a.first_exposure +");
        assert_eq!(before_exposure, 4);
        for (m, spec) in s.metrics.iter().enumerate() {
            let has_covariate = spec.aggregation != Aggregation::Mean;
            assert_eq!(stage.contains(&format!(" AS x{m}")), has_covariate, "{m}");
        }
        assert!(with.sql.contains(
            "CAST([sum(x0), sum(x1), sum(x2), NULL, sum(x4)] AS Array(Nullable(Float64))) \
             AS sum_x_by_metric"
        ));
    }
}

#[test]
fn on_a_cluster_the_covariate_sums_add_up_across_shards() {
    let mut s = with_cuped(scope());
    s.table.placement = Placement::Cluster("analytics".into());
    let sql = compile_metrics(&s, EventsTableKind::Plain).unwrap().sql;
    for column in ["n", "sum", "sum_sq", "sum_x", "sum_x2", "sum_xy"] {
        assert!(
            sql.contains(&format!("    sum(shard.{column}) AS {column}")),
            "{column}: {sql}"
        );
    }
}

#[test]
fn a_lookback_that_is_not_a_positive_whole_number_of_seconds_is_refused() {
    use super::CompileError;
    for lookback in [
        chrono::Duration::zero(),
        chrono::Duration::seconds(-86_400),
        chrono::Duration::milliseconds(100),
    ] {
        let mut s = scope();
        s.cuped_lookback = Some(lookback);
        assert_eq!(
            compile_metrics(&s, EventsTableKind::Plain),
            Err(CompileError::InvalidLookback)
        );
    }
}

/// `preview_scope` with hostile text in every field a user or an SDK controls, on `placement`.
fn hostile_preview(placement: Placement) -> PreviewScope {
    let h = |field: &str| format!("{field}{HOSTILE}");
    let mut s = preview_scope();
    s.table.database = "db; DROP TABLE x -- {p0:String} ?".into();
    s.table.table = "events) UNION ALL SELECT 1 --".into();
    s.table.placement = match placement {
        Placement::Single => Placement::Single,
        Placement::Cluster(_) => Placement::Cluster(HOSTILE.into()),
    };
    s.environment_key = h("env");
    s.definition.event = h("purchase");
    s.definition.value = Some(ValueSource::Property {
        property: h("amount"),
    });
    for (j, f) in s.definition.filters.iter_mut().enumerate() {
        f.property = h(&format!("property{j}"));
        f.value = match f.value.take() {
            Some(FilterValue::String(_)) => Some(FilterValue::String(h("string"))),
            Some(FilterValue::StringList(_)) => Some(FilterValue::StringList(vec![h("a"), h("b")])),
            other => other,
        };
    }
    s
}

fn previews(s: &PreviewScope) -> Vec<CompiledQuery> {
    KINDS
        .iter()
        .map(|kind| compile_preview(s, *kind).unwrap())
        .collect()
}

#[test]
fn hostile_values_in_a_preview_travel_only_as_parameters() {
    for placement in [Placement::Single, Placement::Cluster("analytics".into())] {
        let s = hostile_preview(placement.clone());
        let mut benign = preview_scope();
        benign.table.placement = placement;
        for (hostile, plain) in previews(&s).iter().zip(previews(&benign)) {
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
            let sent = strings_sent(hostile);
            let mut expected = vec![
                s.environment_key.clone(),
                s.table.database.clone(),
                s.table.table.clone(),
                s.definition.event.clone(),
            ];
            if let Some(ValueSource::Property { property }) = &s.definition.value {
                expected.push(property.clone());
            }
            for f in &s.definition.filters {
                expected.push(f.property.clone());
                match &f.value {
                    Some(FilterValue::String(v)) => expected.push(v.clone()),
                    Some(FilterValue::StringList(items)) => expected.extend(items.iter().cloned()),
                    _ => {}
                }
            }
            if let Placement::Cluster(cluster) = &s.table.placement {
                expected.push(cluster.clone());
            }
            for value in expected {
                assert!(sent.contains(&value), "{value:?} was not sent verbatim");
            }
        }
    }
}

#[test]
fn a_preview_reads_the_events_table_once() {
    for placement in [Placement::Single, Placement::Cluster("analytics".into())] {
        let mut s = preview_scope();
        s.table.placement = placement.clone();
        for query in previews(&s) {
            let sql = &query.sql;
            assert_eq!(
                occurrences(sql, "{p0:Identifier}.{p1:Identifier}"),
                1,
                "{sql}"
            );
            assert_eq!(occurrences(sql, "FROM scanned\n"), 1, "{sql}");
            assert_eq!(occurrences(sql, " per_identity\n"), 1, "{sql}");
            for per_identity in ["groupArray", "arrayDistinct", "uniqExact", "groupUniqArray"] {
                assert!(!sql.contains(per_identity), "{per_identity}");
            }
            // The metadata is read by the scan only, into typed columns.
            let after_scan = sql.split("FROM scanned\n").nth(1).unwrap();
            assert!(!after_scan.contains("metadata"), "{after_scan}");
            assert_eq!(
                occurrences(sql, "FROM cluster("),
                usize::from(matches!(placement, Placement::Cluster(_)))
            );
        }
    }
}

/// `funnel_capping_scope` with a distinct hostile text in every step's event and filter.
fn hostile_funnel_capping_scope() -> ResultsScope {
    let h = |field: &str| format!("{field}{HOSTILE}");
    let mut s = funnel_capping_scope();
    for spec in &mut s.metrics {
        if !spec.definition.event.is_empty() {
            spec.definition.event = h(&spec.definition.event);
        }
        for (k, step) in spec.definition.steps.iter_mut().enumerate() {
            step.event = h(&step.event);
            for f in &mut step.filters {
                f.property = h(&format!("property{k}"));
                f.value = Some(FilterValue::String(h("value")));
            }
        }
    }
    s
}

#[test]
fn hostile_steps_and_caps_travel_only_as_parameters() {
    let s = hostile_funnel_capping_scope();
    for (hostile, plain) in all_queries(&s)
        .iter()
        .zip(all_queries(&funnel_capping_scope()))
    {
        assert_eq!(hostile.sql, plain.sql);
        assert!(!hostile.sql.contains("DROP"), "{}", hostile.sql);
    }
    let query = compile_metrics(&s, EventsTableKind::Plain).unwrap();
    let sent = strings_sent(&query);
    for step in &s.metrics[0].definition.steps {
        assert!(sent.contains(&step.event), "{:?} was not sent", step.event);
        for f in &step.filters {
            assert!(sent.contains(&f.property));
        }
    }
    // Cap values and levels are Float64 parameters, not SQL text.
    let floats: Vec<f64> = (query.params.iter())
        .filter_map(|(_, v)| match v {
            ParamValue::Float64(x) => Some(*x),
            _ => None,
        })
        .collect();
    for cap in [5.0, 0.99, 0.9, 0.1] {
        assert!(floats.contains(&cap), "{cap} in {floats:?}");
    }
    // No number in the text equals a cap or level (the compiler's own constants, such as the
    // quantile bounds' clamp 0.99999999, are other numbers).
    let numbers: Vec<&str> = query
        .sql
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .collect();
    for cap in ["0.99", "0.9", "0.1"] {
        assert!(!numbers.contains(&cap), "{cap} in the SQL text");
    }
}

#[test]
fn funnels_and_caps_read_the_events_table_once_and_use_each_cte_once() {
    for kind in KINDS {
        for s in [funnel_capping_scope(), with_cuped(funnel_capping_scope())] {
            let query = compile_metrics(&s, kind).unwrap();
            let sql = &query.sql;
            assert_eq!(occurrences(sql, "{p0:Identifier}.{p1:Identifier}"), 2);
            assert_eq!(occurrences(sql, " AS (\n"), 4, "{sql}");
            for usage in [
                "FROM metric_events AS e\n",
                "RIGHT JOIN assignments AS a ON",
                "FROM identities AS i\n",
                "FROM capped\n",
            ] {
                assert_eq!(occurrences(sql, usage), 1, "{usage:?}");
            }
            // The one scan reads every step's event.
            let names = query
                .params
                .iter()
                .find_map(|(_, v)| match v {
                    ParamValue::StringArray(items) => Some(items.clone()),
                    _ => None,
                })
                .expect("the event names");
            for event in ["view", "cart", "purchase"] {
                assert!(names.contains(&event.to_owned()), "{names:?}");
            }
        }
    }
    // Without a cap, the per-variant stage reads `identities` directly.
    let mut s = funnel_capping_scope();
    s.metrics.truncate(1);
    let sql = compile_metrics(&s, EventsTableKind::Plain).unwrap().sql;
    assert_eq!(occurrences(&sql, " AS (\n"), 3);
    assert_eq!(occurrences(&sql, "FROM identities\n"), 1);
}

#[test]
fn a_percentile_cap_is_refused_on_a_cluster_and_an_absolute_one_adds_up() {
    use super::CompileError;
    let mut s = funnel_capping_scope();
    s.table.placement = Placement::Cluster("analytics".into());
    assert!(matches!(
        compile_metrics(&s, EventsTableKind::Plain),
        Err(CompileError::NotOnCluster { metric: 2, .. })
    ));
    s.metrics.truncate(2);
    let sql = compile_metrics(&s, EventsTableKind::Plain).unwrap().sql;
    assert!(sql.contains("    sum(shard.capped_identities) AS capped_identities"));
    assert!(sql.contains("    sumForEach(shard.step_reached) AS step_reached"));
    assert!(sql.contains("    any(shard.cap_upper) AS cap_upper"));
}

#[test]
fn a_funnel_or_a_cap_that_does_not_fit_its_metric_is_refused() {
    use super::CompileError;
    use crate::domain::metric::{Capping, CappingKind};
    let mut capped_occurrence = metric(Aggregation::Occurrence, "signup", None, None, vec![]);
    capped_occurrence.definition.capping = Some(Capping {
        kind: CappingKind::Absolute,
        upper: 1.0,
        lower: None,
        ignore_zeros: false,
    });
    let mut funnel_count = funnel_capping_scope().metrics[0].clone();
    funnel_count.aggregation = Aggregation::Count;
    let mut empty_step = funnel_capping_scope().metrics[0].clone();
    empty_step.definition.steps[1].event.clear();
    let mut upside_down = funnel_capping_scope().metrics[1].clone();
    if let Some(capping) = &mut upside_down.definition.capping {
        capping.lower = Some(9.0);
    }
    for spec in [capped_occurrence, funnel_count, empty_step, upside_down] {
        let mut s = scope();
        s.metrics.push(spec.clone());
        assert!(
            matches!(
                compile_metrics(&s, EventsTableKind::Plain),
                Err(CompileError::InvalidMetric { metric: 2, .. })
            ),
            "{spec:?}"
        );
    }
}

/// `ratio_scope` with a distinct hostile text in every field of its RATIO metric's parts.
fn hostile_ratio_scope() -> ResultsScope {
    let h = |field: &str| format!("{field}{HOSTILE}");
    let mut s = super::fixtures::ratio_scope();
    // Events that are equal stay equal (the text depends on which names are).
    for spec in &mut s.metrics {
        spec.definition.event = h(&spec.definition.event);
    }
    let definition = &mut s.metrics[1].definition;
    for (name, part) in [
        ("numerator", &mut definition.numerator),
        ("denominator", &mut definition.denominator),
    ] {
        let part = part.as_mut().expect("the ratio has both parts");
        part.event = h(&part.event);
        if let Some(ValueSource::Property { property }) = &mut part.value {
            *property = h(&format!("{name}.value"));
        }
        for f in &mut part.filters {
            f.property = h(&format!("{name}.property"));
            if let Some(FilterValue::String(_)) = f.value {
                f.value = Some(FilterValue::String(h(&format!("{name}.string"))));
            }
        }
    }
    s
}

#[test]
fn a_ratio_metric_keeps_its_values_out_of_the_sql_and_reads_the_events_once() {
    let s = hostile_ratio_scope();
    let benign = super::fixtures::ratio_scope();
    let ratio = &s.metrics[1].definition;
    let numerator = ratio.numerator.clone().unwrap();
    let denominator = ratio.denominator.clone().unwrap();
    for (hostile, plain) in all_queries(&s).iter().zip(all_queries(&benign)) {
        assert_eq!(hostile.sql, plain.sql);
        assert!(!hostile.sql.contains("DROP"), "{}", hostile.sql);
    }
    for kind in KINDS {
        for query in [
            compile_metrics(&s, kind).unwrap(),
            compile_metrics(&with_cuped(s.clone()), kind).unwrap(),
        ] {
            let sent = strings_sent(&query);
            let mut expected = vec![numerator.event.clone(), denominator.event.clone()];
            if let Some(ValueSource::Property { property }) = &numerator.value {
                expected.push(property.clone());
            }
            for f in &numerator.filters {
                expected.push(f.property.clone());
                if let Some(FilterValue::String(v)) = &f.value {
                    expected.push(v.clone());
                }
            }
            for value in expected {
                assert!(sent.contains(&value), "{value:?} was not sent verbatim");
            }
            // One read of the exposure range and one of the metric events' range, both parts'
            // events included; each CTE used once.
            let sql = &query.sql;
            assert_eq!(occurrences(sql, "{p0:Identifier}.{p1:Identifier}"), 2);
            assert_eq!(
                occurrences(sql, "    AND e.event IN {p9:Array(String)}\n"),
                1
            );
            assert_eq!(occurrences(sql, " AS (\n"), 3);
            assert_eq!(occurrences(sql, "FROM identities\n"), 1);
        }
    }
}

/// `quantile_scope` with hostile text in every text field and other quantile levels.
fn hostile_quantile_scope() -> ResultsScope {
    let mut s = super::fixtures::quantile_scope();
    for (i, spec) in s.metrics.iter_mut().enumerate() {
        // Metrics that share an event name keep sharing it.
        spec.definition.event = format!("{}{HOSTILE}", spec.definition.event);
        if let Some(ValueSource::Property { property }) = &mut spec.definition.value {
            *property = format!("value{i}{HOSTILE}");
        }
        for f in &mut spec.definition.filters {
            f.property = format!("property{i}{HOSTILE}");
            f.value = Some(FilterValue::String(format!("string{i}{HOSTILE}")));
        }
        if let Some(q) = &mut spec.definition.quantile {
            q.level = [0.5, 0.65, 0.75][i];
        }
    }
    s
}

#[test]
fn quantile_levels_and_texts_travel_only_as_parameters() {
    let hostile = hostile_quantile_scope();
    let benign = super::fixtures::quantile_scope();
    for kind in KINDS {
        for (h, b) in [
            (hostile.clone(), benign.clone()),
            (with_cuped(hostile.clone()), with_cuped(benign.clone())),
        ] {
            let (h, b) = (
                compile_metrics(&h, kind).unwrap(),
                compile_metrics(&b, kind).unwrap(),
            );
            assert_eq!(h.sql, b.sql);
            let floats: Vec<f64> = h
                .params
                .iter()
                .filter_map(|(_, v)| match v {
                    ParamValue::Float64(x) => Some(*x),
                    _ => None,
                })
                .collect();
            assert!(
                floats.contains(&0.65) && floats.contains(&0.75),
                "{floats:?}"
            );
            let sent = strings_sent(&h);
            for text in ["purchase", "value2", "property2", "string2"] {
                assert!(sent.contains(&format!("{text}{HOSTILE}")), "{text}");
            }
        }
    }
}

#[test]
fn with_quantiles_the_table_is_read_once_and_every_cte_used_once() {
    for kind in KINDS {
        for s in [
            super::fixtures::quantile_scope(),
            with_cuped(super::fixtures::quantile_scope()),
        ] {
            let sql = compile_metrics(&s, kind).unwrap().sql;
            assert_eq!(occurrences(&sql, "{p0:Identifier}.{p1:Identifier}"), 2);
            // assignments, metric_events, identities.
            assert_eq!(occurrences(&sql, " AS (\n"), 3);
            for usage in [
                "FROM metric_events AS e\n",
                "RIGHT JOIN assignments AS a ON",
                "FROM identities\n",
            ] {
                assert_eq!(occurrences(&sql, usage), 1, "{usage:?}");
            }
        }
    }
}

#[test]
fn a_quantile_without_its_value_source_or_its_quantile_is_refused() {
    use super::CompileError;
    let mut without_value = super::fixtures::quantile_scope();
    without_value.metrics[1].definition.value = None;
    let mut without_quantile = super::fixtures::quantile_scope();
    without_quantile.metrics[1].definition.quantile = None;
    for s in [without_value, without_quantile] {
        assert!(matches!(
            compile_metrics(&s, EventsTableKind::Plain),
            Err(CompileError::InvalidMetric { metric: 1, .. })
        ));
    }
}

/// Every kind in one scope: funnels and caps, a ratio, quantiles over events and identities.
fn catalogue_scope() -> ResultsScope {
    let mut s = funnel_capping_scope();
    s.metrics.extend(super::fixtures::ratio_scope().metrics);
    s.metrics.extend(super::fixtures::quantile_scope().metrics);
    s
}

#[test]
fn a_scope_with_every_kind_reads_the_events_table_once_and_uses_each_cte_once() {
    for kind in KINDS {
        for s in [catalogue_scope(), with_cuped(catalogue_scope())] {
            let sql = compile_metrics(&s, kind).unwrap().sql;
            // The exposure range and the metric events' range, each once.
            assert_eq!(
                occurrences(&sql, "{p0:Identifier}.{p1:Identifier}"),
                2,
                "{sql}"
            );
            assert_eq!(occurrences(&sql, " AS (\n"), 4, "{sql}");
            for usage in [
                "FROM metric_events AS e\n",
                "RIGHT JOIN assignments AS a ON",
                "FROM identities AS i\n",
                "FROM capped\n",
            ] {
                assert_eq!(occurrences(&sql, usage), 1, "{usage:?} in\n{sql}");
            }
        }
    }
}

/// A window holds every row of its partition in memory and never spills, so no window may run
/// over identities: the PERCENTILE caps' and the event quantiles' windows are in the per-variant
/// select, over one row per variant.
#[test]
fn windows_run_over_the_per_variant_rows_only() {
    for kind in KINDS {
        for s in [catalogue_scope(), with_cuped(catalogue_scope())] {
            let sql = compile_metrics(&s, kind).unwrap().sql;
            let per_variant = sql
                .find("    SELECT\n        variant_index,")
                .expect("the per-variant select");
            assert!(occurrences(&sql[per_variant..], " OVER (") > 0, "{sql}");
            assert_eq!(occurrences(&sql[..per_variant], " OVER ("), 0, "{sql}");
        }
    }
}
