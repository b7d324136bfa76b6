//! [`compile_preview`]: what a metric definition would read from an environment's recent events,
//! before it is saved (`domain::preview` says what each number means).
//!
//! One read of the events table, on the sort-key prefix `environment_key` over `[start, end]`:
//! `scanned` reads each event once (as `metric_events` does, per [`EventsTableKind`]) and carries
//! per event a few `UInt8`/`Float64` columns computed from `metadata` only for events of the
//! definition's name (`AND` short-circuits), never the text; `per_identity` groups by
//! `identifier` with plain combinators; the final `SELECT` aggregates the identities into one row:
//!
//! `matching_events, identities, identities_in_period, identities_with_value UInt64,
//! value_quantiles Array(Float64), max_value Float64, event_rows UInt64,
//! property_rows Array(UInt64), values_not_numeric UInt64`
//!
//! `property_rows` has one entry per filter, then one for a value source's property
//! (`domain::preview::checked_properties`). The quantiles are `quantilesExactInclusive` at
//! `domain::preview::QUANTILE_LEVELS` (NaN, like `max_value` 0, when no identity has a value).
//! Every identity with an event in the period costs the `GROUP BY` a few numbers, and each with a
//! value one `Float64` in the quantiles' state; the `GROUP BY` spills to disk past half the
//! memory limit as the results queries' do.
//!
//! On a cluster each shard runs `scanned` and `per_identity` over its local table (an identity's
//! events live on one shard) inside `cluster({pN:String}, view(…))`, and the initiator aggregates
//! the identities' rows: quantiles do not add up across shards, so the initiator receives one row
//! per identity rather than per shard.

use chrono::{DateTime, Utc};

use super::error::CompileError;
use super::filter;
use super::metric_events::each_event_once;
use super::param::Params;
use super::property;
use super::query::{assemble, indent, CompiledQuery, Cte};
use super::scope::{bind_table, EventsTable, EventsTableKind, Placement};
use crate::domain::metric::{MetricDefinition, ValueSource};
use crate::domain::preview::QUANTILE_LEVELS;

/// What one preview reads: the environment's events over `[start, end]` (both inclusive).
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewScope {
    pub table: EventsTable,
    pub environment_key: String,
    /// Its window is not used: a preview has no exposures.
    pub definition: MetricDefinition,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One row, see the module doc.
pub fn compile_preview(
    scope: &PreviewScope,
    kind: EventsTableKind,
) -> Result<CompiledQuery, CompileError> {
    if scope.end < scope.start {
        return Err(CompileError::EndBeforeStart);
    }
    let invalid = |reason: String| CompileError::InvalidMetric { metric: 0, reason };
    let definition = &scope.definition;
    // The domain refuses these for a preview; a definition that bypassed it is not compiled.
    if definition.is_funnel()
        || definition.numerator.is_some()
        || definition.denominator.is_some()
        || definition.quantile.is_some()
        || definition.capping.is_some()
    {
        return Err(invalid("a preview covers single-event definitions".into()));
    }
    if definition.event.is_empty() {
        return Err(invalid("the metric has no event".into()));
    }
    let mut params = Params::new();
    let table = bind_table(&scope.table, &mut params)?;
    let environment = params.string(&scope.environment_key);
    let start = params.datetime(scope.start);
    let end = params.datetime(scope.end);
    let named = format!("e.event = {}", params.string(&definition.event));
    let predicates = definition
        .filters
        .iter()
        .enumerate()
        .map(|(i, f)| filter::predicate(f, &mut params).map_err(|e| format!("filter {i}: {e}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let matching = std::iter::once(named.clone())
        .chain(predicates)
        .collect::<Vec<_>>()
        .join("\n        AND ");

    // (scanned column, its per-event expression); then the per-identity aggregates over them.
    let mut scanned = vec![
        ("named".to_owned(), named.clone()),
        ("matching".to_owned(), matching.clone()),
    ];
    let mut identity = vec![
        "countIf(matching) AS events_matching".to_owned(),
        "countIf(named) AS events_named".to_owned(),
    ];
    let mut property_rows = Vec::new();
    let mut has_property = |key: &str, scanned: &mut Vec<(String, String)>| {
        let k = property_rows.len();
        scanned.push((
            format!("has_property_{k}"),
            format!("{named} AND {}", property::has(key)),
        ));
        identity.push(format!(
            "countIf(has_property_{k}) AS rows_with_property_{k}"
        ));
        property_rows.push(format!("sum(rows_with_property_{k})"));
    };
    for f in &definition.filters {
        let key = params.string(&f.property);
        has_property(&key, &mut scanned);
    }
    if let Some(source) = &definition.value {
        let (present, number) = match source {
            ValueSource::EventValue => (
                "e.value != ''".to_owned(),
                "toFloat64OrNull(e.value)".to_owned(),
            ),
            ValueSource::Property { property } => {
                let key = params.string(property);
                has_property(&key, &mut scanned);
                (property::has(&key), property::number(&key))
            }
        };
        scanned.push((
            "value_number".to_owned(),
            format!("if({matching}, ifNull({number}, nan), nan)"),
        ));
        scanned.push((
                "value_not_numeric".to_owned(),
                format!(
                    "{matching}\n        AND {present}\n        AND NOT isFinite(ifNull({number}, nan))"
                ),
            ));
    }
    // An identity's value: SUM of its finite values with a value source, else COUNT of its
    // matching events; it has one when it has a matching event (and a finite value).
    let (identity_value, with_value, not_numeric) = match definition.value {
        Some(_) => {
            identity.push("countIf(isFinite(value_number)) AS events_valued".to_owned());
            identity.push("sumIf(value_number, isFinite(value_number)) AS value_total".to_owned());
            identity.push("countIf(value_not_numeric) AS events_not_numeric".to_owned());
            (
                "value_total",
                "events_valued > 0",
                "sum(events_not_numeric)",
            )
        }
        None => (
            "toFloat64(events_matching)",
            "events_matching > 0",
            "toUInt64(0)",
        ),
    };
    let property_rows = if property_rows.is_empty() {
        "CAST([], 'Array(UInt64)')".to_owned()
    } else {
        format!("[{}]", property_rows.join(", "))
    };
    let levels = QUANTILE_LEVELS.map(|l| l.to_string()).join(", ");
    let overall = format!(
        "SELECT
    sum(events_matching) AS matching_events,
    countIf(events_matching > 0) AS identities,
    count() AS identities_in_period,
    countIf({with_value}) AS identities_with_value,
    quantilesExactInclusiveIf({levels})({identity_value}, {with_value}) AS value_quantiles,
    maxIf({identity_value}, {with_value}) AS max_value,
    sum(events_named) AS event_rows,
    {property_rows} AS property_rows,
    {not_numeric} AS values_not_numeric
FROM per_identity
"
    );

    let (wrap, from, group) = each_event_once(kind);
    let columns: String = scanned
        .iter()
        .map(|(name, expression)| format!(",\n    {wrap}({expression}) AS {name}"))
        .collect();
    let scan = Cte {
        name: "scanned",
        body: format!(
            "SELECT
    e.identifier AS identifier{columns}
FROM {table} AS e{from}
WHERE e.environment_key = {environment}
    AND e.timestamp >= {start}
    AND e.timestamp <= {end}
{group}"
        ),
    };
    let per_identity = format!(
        "SELECT\n    {}\nFROM scanned\nGROUP BY identifier\n",
        identity.join(",\n    ")
    );
    let settings = match kind {
        EventsTableKind::Deduplicating => {
            "SETTINGS do_not_merge_across_partitions_select_final = 1\n"
        }
        EventsTableKind::Plain => "",
    };
    Ok(match &scope.table.placement {
        Placement::Single => {
            let ctes = [
                scan,
                Cte {
                    name: "per_identity",
                    body: per_identity,
                },
            ];
            assemble(&ctes, &format!("{overall}{settings}"), params)
        }
        Placement::Cluster(cluster) => {
            let per_shard = assemble(&[scan], &format!("{per_identity}{settings}"), params);
            let mut params = Params::continuing(per_shard.params);
            let cluster = params.string(cluster);
            let from_shards = format!(
                "FROM cluster({cluster}, view(\n{}\n)) AS per_identity\n",
                indent(&per_shard.sql).trim_end()
            );
            let select = overall.replace("FROM per_identity\n", &from_shards);
            assemble(
                &[],
                &format!("{select}SETTINGS skip_unavailable_shards = 0\n"),
                params,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fixtures::{param_text, preview_scope};

    #[test]
    fn the_period_must_not_end_before_it_starts() {
        let mut s = preview_scope();
        s.end = s.start - chrono::Duration::milliseconds(1);
        assert_eq!(
            compile_preview(&s, EventsTableKind::Plain).err(),
            Some(CompileError::EndBeforeStart)
        );
    }

    #[test]
    fn without_a_value_source_identities_count_their_matching_events() {
        let mut s = preview_scope();
        s.definition.value = None;
        s.definition.filters.clear();
        let query = compile_preview(&s, EventsTableKind::Deduplicating).unwrap();
        assert!(query.sql.contains(
            "quantilesExactInclusiveIf(0.5, 0.9, 0.99)(toFloat64(events_matching), events_matching > 0)"
        ));
        assert!(query
            .sql
            .contains("CAST([], 'Array(UInt64)') AS property_rows"));
        assert!(!query.sql.contains("value_number"), "{}", query.sql);
        assert_eq!(param_text(&query, "p5"), "purchase");
    }

    #[test]
    fn each_filter_and_the_value_property_get_a_presence_count() {
        let s = preview_scope();
        let query = compile_preview(&s, EventsTableKind::Deduplicating).unwrap();
        let properties = crate::domain::preview::checked_properties(&s.definition).len();
        assert!(properties >= 2);
        let entries: Vec<String> = (0..properties)
            .map(|k| format!("sum(rows_with_property_{k})"))
            .collect();
        assert!(
            query
                .sql
                .contains(&format!("[{}] AS property_rows", entries.join(", "))),
            "{}",
            query.sql
        );
    }
}
