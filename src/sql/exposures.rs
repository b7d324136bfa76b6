//! Who is in the experiment, and in which variant: the per-identity assignment aggregates shared
//! by both queries (the `exposures` CTE here, the `identities` CTE of the metrics query), the rule
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
/// `first_exposure` and `variants_seen` (distinct values; 0 when the identity has no exposure
/// row). `exposure` is the condition that makes a row an exposure, `None` when every aggregated
/// row is one already. Columns at four spaces, without a trailing comma.
pub(super) fn assignment_columns(exposure: Option<&str>) -> String {
    match exposure {
        None => "    argMin(value, (timestamp, value)) AS variant,
    min(timestamp) AS first_exposure,
    uniqExact(value) AS variants_seen"
            .to_owned(),
        Some(condition) => format!(
            "    argMinIf(value, (timestamp, value),
        ({condition}) AS is_exposure) AS variant,
    minIf(timestamp, is_exposure) AS first_exposure,
    uniqExactIf(value, is_exposure) AS variants_seen"
        ),
    }
}

/// The rows of the events table (already restricted to the environment and `timestamp >= start`)
/// that are exposures to the feature within the range.
pub(super) fn exposure_condition(scope: &BoundScope) -> String {
    format!(
        "event = {} AND feature_name = {} AND timestamp <= {}",
        scope.exposure_event, scope.feature, scope.end
    )
}

/// Whether an identity with the assignment columns (prefixed by `row`, e.g. `a.`) counts: it was
/// exposed, to a known variant, and under EXCLUDE to one variant only.
pub(super) fn counts(scope: &BoundScope, row: &str) -> String {
    let seen = match scope.handling {
        MultipleExposureHandling::FirstTouch => ">= 1",
        MultipleExposureHandling::Exclude => "= 1",
    };
    format!(
        "{row}variants_seen {seen} AND has({}, {row}variant)",
        scope.variant_array()
    )
}

/// One row per identity exposed to the feature in the range, with [`assignment_columns`].
fn exposures_cte(scope: &BoundScope) -> Cte {
    let body = format!(
        "SELECT
    identifier,
{columns}
FROM {table}
WHERE environment_key = {environment}
    AND event = {exposure_event}
    AND feature_name = {feature}
    AND timestamp >= {start}
    AND timestamp <= {end}
GROUP BY identifier
",
        columns = assignment_columns(None),
        table = scope.table,
        environment = scope.environment,
        exposure_event = scope.exposure_event,
        feature = scope.feature,
        start = scope.start,
        end = scope.end,
    );
    Cte {
        name: "exposures",
        body,
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
        countIf(has({variants}, variant) AND variants_seen > 1) AS multiple_exposures,
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
    fn the_metrics_query_takes_the_same_aggregates_over_its_exposure_rows() {
        let mut params = Params::new();
        let bound = BoundScope::bind(&scope(), &mut params).unwrap();
        let condition = exposure_condition(&bound);
        assert_eq!(
            condition,
            "event = {p3:String} AND feature_name = {p4:String} \
             AND timestamp <= {p6:DateTime64(3, 'UTC')}"
        );
        let plain = assignment_columns(None);
        let conditional = assignment_columns(Some(&condition));
        assert!(conditional.contains(&format!("(timestamp, value),\n        ({condition})")));
        // Same aggregates, each restricted to the exposure rows.
        for (all_rows, exposure_rows) in [
            ("argMin(", "argMinIf("),
            ("min(timestamp)", "minIf(timestamp, is_exposure)"),
            ("uniqExact(value)", "uniqExactIf(value, is_exposure)"),
        ] {
            assert!(plain.contains(all_rows) && conditional.contains(exposure_rows));
        }
    }

    #[test]
    fn every_variant_gets_a_row_in_order() {
        let query = compile_exposures(&scope()).unwrap();
        let known = "has([{p7:String}, {p8:String}], variant)";
        assert!(query.sql.contains(&format!(
            "countIf(variant = {{p7:String}} AND variants_seen >= 1 AND {known}),"
        )));
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
        assert_eq!(
            first_touch,
            "a.variants_seen >= 1 AND has([{p7:String}, {p8:String}], a.variant)"
        );
        s.handling = MultipleExposureHandling::Exclude;
        let exclude = compile_exposures(&s).unwrap().sql;
        assert!(exclude.contains("countIf(variant = {p7:String} AND variants_seen = 1 AND"));
        assert!(exclude.contains("AND variants_seen > 1) AS multiple_exposures"));
    }
}
