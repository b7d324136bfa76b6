//! Who is in the experiment, and in which variant: the per-identity assignment aggregates shared
//! by both queries (the `exposures` CTE here, the `assignments` CTE of the metrics query), the rule
//! of which identities count, and [`compile_exposures`], the per-variant exposure counts.
//!
//! An identity's assignment is the value of its first exposure event of the feature within the
//! range (ties at the same millisecond broken by the smaller variant key, so results are
//! deterministic). An assignment that is not one of the feature's variants drops the identity
//! (`unknown_variant`). An identity that saw several distinct values is `multiple_exposures`:
//! kept in its first variant under FIRST_TOUCH, left out under EXCLUDE.

use super::cluster::{place, ShardMerge};
use super::error::CompileError;
use super::param::Params;
use super::query::{CompiledQuery, Cte};
use super::scope::{BoundScope, MultipleExposureHandling, ResultsScope};

/// An identity's assignment from its exposure rows: `variant` (first value, ties to the smaller),
/// `first_exposure`, and `several_variants` (it saw more than one value: `min != max` is what
/// `uniqExact(value) > 1` says, without a set per identity). Columns at four spaces, without a
/// trailing comma.
const ASSIGNMENT_COLUMNS: &str = "    argMin(value, (timestamp, value)) AS variant,
    min(timestamp) AS first_exposure,
    min(value) != max(value) AS several_variants";

/// The exposure rows of the feature within the range, grouped by identity: the one read of the
/// exposure key range `(environment, exposure event, feature, timestamp)` in both queries.
fn exposure_rows(scope: &BoundScope) -> String {
    format!(
        "FROM {table}
WHERE environment_key = {environment}
    AND event = {exposure_event}
    AND feature_name = {feature}
    AND timestamp >= {start}
    AND timestamp <= {end}
GROUP BY identifier",
        table = scope.table,
        environment = scope.environment,
        exposure_event = scope.exposure_event,
        feature = scope.feature,
        start = scope.start,
        end = scope.end,
    )
}

/// Whether an identity with the assignment columns (prefixed by `row`, e.g. `a.`) counts: to a
/// known variant, and under EXCLUDE to one variant only.
pub(super) fn counts(scope: &BoundScope, row: &str) -> String {
    let known = format!("has({}, {row}variant)", scope.variant_array());
    match scope.handling {
        MultipleExposureHandling::FirstTouch => known,
        MultipleExposureHandling::Exclude => format!("NOT {row}several_variants AND {known}"),
    }
}

/// One row per identity exposed to the feature in the range, with the assignment columns.
fn exposures_cte(scope: &BoundScope) -> Cte {
    Cte {
        name: "exposures",
        body: format!(
            "SELECT\n    identifier,\n{ASSIGNMENT_COLUMNS}\n{}\n",
            exposure_rows(scope)
        ),
    }
}

/// The metrics query's `assignments`: one row per identity that [`counts`], with its `key` (the
/// identifier's `sipHash128`, see `identities.rs`), `first_exposure`, `variant_index` (1-based,
/// in the scope's variant order) and `identity`, a number unique to the row (grouping the joined
/// events by it rather than by the identifier text takes a third less time). The identity's
/// metric events are joined to it by `key` (see `identities.rs`).
pub(super) fn assignments_cte(scope: &BoundScope) -> Cte {
    Cte {
        name: "assignments",
        body: format!(
            "SELECT\n    sipHash128(identifier) AS key,\n{ASSIGNMENT_COLUMNS},\n    indexOf({variants}, variant) AS variant_index,\n    rowNumberInAllBlocks() AS identity\n{rows}\nHAVING {counts}\n",
            variants = scope.variant_array(),
            rows = exposure_rows(scope),
            counts = counts(scope, ""),
        ),
    }
}

/// Rows `variant String, identities UInt64, multiple_exposures UInt64, unknown_variant UInt64`:
/// one per feature variant, in the scope's order, always (zero identities included); the two
/// totals are the same on every row. `exposures` is aggregated once into a single row and then
/// spread with `ARRAY JOIN`, so the events table is read once. `identities` counts what
/// [`counts`] keeps for the metrics query.
pub fn compile_exposures(scope: &ResultsScope) -> Result<CompiledQuery, CompileError> {
    let mut params = Params::new();
    let bound = BoundScope::bind(scope, &mut params)?;
    let per_variant: Vec<String> = bound
        .variants
        .iter()
        .map(|key| {
            format!(
                "            countIf(variant = {key} AND {})",
                counts(&bound, "")
            )
        })
        .collect();
    let variants = bound.variant_array();
    let select = format!(
        "SELECT
    variant,
    identities,
    multiple_exposures,
    unknown_variant
FROM (
    SELECT
        [
{per_variant}
        ] AS identities_by_variant,
        countIf(has({variants}, variant) AND several_variants) AS multiple_exposures,
        countIf(NOT has({variants}, variant)) AS unknown_variant
    FROM exposures
)
ARRAY JOIN
    {variants} AS variant,
    identities_by_variant AS identities
",
        per_variant = per_variant.join(",\n"),
    );
    // On a cluster each shard repeats its own totals on every row, so adding a variant's rows
    // across shards adds the totals too.
    let order = format!("indexOf({variants}, variant)");
    let merge = ShardMerge {
        keys: &["variant"],
        sums: &["identities", "multiple_exposures", "unknown_variant"],
        elementwise_sums: &[],
        same: &[],
        order_by: &order,
    };
    Ok(place(
        &scope.table.placement,
        &[exposures_cte(&bound)],
        &select,
        None,
        &merge,
        params,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fixtures::{param_text, scope};

    #[test]
    fn exposures_take_the_first_variant_of_the_feature_within_the_range() {
        let query = compile_exposures(&scope()).unwrap();
        assert!(query
            .sql
            .contains("argMin(value, (timestamp, value)) AS variant"));
        assert!(query.sql.contains("AND event = {p3:String}"));
        assert!(query.sql.contains("AND feature_name = {p4:String}"));
        assert!(query.sql.contains("timestamp >= {p5:DateTime64(3, 'UTC')}"));
        assert!(query.sql.contains("timestamp <= {p6:DateTime64(3, 'UTC')}"));
        assert_eq!(param_text(&query, "p3"), "$feature_flag_called");
        assert_eq!(param_text(&query, "p4"), "new-checkout");
    }

    #[test]
    fn the_metrics_query_assigns_identities_as_the_exposures_query_does() {
        let mut params = Params::new();
        let bound = BoundScope::bind(&scope(), &mut params).unwrap();
        let exposures = exposures_cte(&bound).body;
        let assignments = assignments_cte(&bound).body;
        // The same read and aggregates; the metrics query keeps only the identities that count.
        assert!(exposures.contains(ASSIGNMENT_COLUMNS) && assignments.contains(ASSIGNMENT_COLUMNS));
        assert!(exposures.ends_with(&format!("{}\n", exposure_rows(&bound))));
        assert!(assignments.ends_with(&format!(
            "{}\nHAVING has([{{p7:String}}, {{p8:String}}], variant)\n",
            exposure_rows(&bound)
        )));
        assert!(
            assignments.contains("indexOf([{p7:String}, {p8:String}], variant) AS variant_index")
        );
    }

    #[test]
    fn every_variant_gets_a_row_in_order() {
        let query = compile_exposures(&scope()).unwrap();
        let known = "has([{p7:String}, {p8:String}], variant)";
        assert!(query
            .sql
            .contains(&format!("countIf(variant = {{p7:String}} AND {known}),")));
        assert!(query.sql.contains("countIf(variant = {p8:String} AND"));
        assert!(query.sql.contains("[{p7:String}, {p8:String}] AS variant"));
        assert_eq!(param_text(&query, "p7"), "control");
        assert_eq!(param_text(&query, "p8"), "treatment");
    }

    #[test]
    fn exclude_keeps_identities_that_saw_one_variant_only() {
        let mut s = scope();
        let mut params = Params::new();
        let first_touch = counts(&BoundScope::bind(&s, &mut params).unwrap(), "a.");
        assert_eq!(first_touch, "has([{p7:String}, {p8:String}], a.variant)");
        s.handling = MultipleExposureHandling::Exclude;
        let exclude = compile_exposures(&s).unwrap().sql;
        assert!(exclude.contains("countIf(variant = {p7:String} AND NOT several_variants AND"));
        assert!(exclude.contains("AND several_variants) AS multiple_exposures"));
        assert!(exclude.contains("min(value) != max(value) AS several_variants"));
    }
}
