//! Who is in the experiment: the `exposures` CTE (one row per exposed identity) and the
//! `assignments` CTE (the identities that count, with their variant), plus
//! [`compile_exposures`], the per-variant exposure counts.
//!
//! An identity's assignment is the value of its first exposure event of the feature within the
//! range (ties at the same millisecond broken by the smaller variant key, so results are
//! deterministic). An assignment that is not one of the feature's variants drops the identity
//! (`unknown_variant`). An identity that saw several distinct values is `multiple_exposures`:
//! kept in its first variant under FIRST_TOUCH, left out under EXCLUDE.

use super::error::CompileError;
use super::param::Params;
use super::query::{assemble, CompiledQuery, Cte};
use super::scope::{BoundScope, MultipleExposureHandling, ResultsScope};

/// One row per identity exposed to the feature in the range:
/// `identifier, variant, first_exposure, saw_several_variants`.
pub(super) fn exposures_cte(scope: &BoundScope) -> Cte {
    let body = format!(
        "SELECT
    identifier,
    argMin(value, (timestamp, value)) AS variant,
    min(timestamp) AS first_exposure,
    uniqExact(value) > 1 AS saw_several_variants
FROM {table}
WHERE environment_key = {environment}
    AND event = {exposure_event}
    AND feature_name = {feature}
    AND timestamp >= {start}
    AND timestamp <= {end}
GROUP BY identifier
",
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

/// The identities that count, from `exposures`: `identifier, variant, first_exposure`.
pub(super) fn assignments_cte(scope: &BoundScope) -> Cte {
    let body = format!(
        "SELECT identifier, variant, first_exposure
FROM exposures
WHERE has({variants}, variant){excluded}
",
        variants = scope.variant_array(),
        excluded = match scope.handling {
            MultipleExposureHandling::FirstTouch => "",
            MultipleExposureHandling::Exclude => "\n    AND NOT saw_several_variants",
        },
    );
    Cte {
        name: "assignments",
        body,
    }
}

/// Rows `variant String, identities UInt64, multiple_exposures UInt64, unknown_variant UInt64`:
/// one per feature variant, in the scope's order, always (zero identities included); the two
/// totals are the same on every row. `exposures` is aggregated once into a single row and then
/// spread with `ARRAY JOIN`, so the events table is read once.
pub fn compile_exposures(scope: &ResultsScope) -> Result<CompiledQuery, CompileError> {
    let mut params = Params::new();
    let bound = BoundScope::bind(scope, &mut params)?;
    let kept = match bound.handling {
        MultipleExposureHandling::FirstTouch => "",
        MultipleExposureHandling::Exclude => " AND NOT saw_several_variants",
    };
    let per_variant: Vec<String> = bound
        .variants
        .iter()
        .map(|key| format!("        countIf(variant = {key}{kept})"))
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
        countIf(has({variants}, variant) AND saw_several_variants) AS multiple_exposures,
        countIf(NOT has({variants}, variant)) AS unknown_variant
    FROM exposures
)
ARRAY JOIN
    {variants} AS variant,
    identities_by_variant AS identities
",
        per_variant = per_variant.join(",\n"),
    );
    Ok(assemble(&[exposures_cte(&bound)], &select, params))
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
    fn every_variant_gets_a_row_in_order() {
        let query = compile_exposures(&scope()).unwrap();
        assert!(query.sql.contains("countIf(variant = {p7:String}),"));
        assert!(query.sql.contains("countIf(variant = {p8:String})\n"));
        assert!(query.sql.contains("[{p7:String}, {p8:String}] AS variant"));
        assert_eq!(param_text(&query, "p7"), "control");
        assert_eq!(param_text(&query, "p8"), "treatment");
    }

    #[test]
    fn exclude_leaves_identities_with_several_variants_out_of_the_counts() {
        let mut s = scope();
        s.handling = MultipleExposureHandling::FirstTouch;
        let first_touch = compile_exposures(&s).unwrap().sql;
        assert!(!first_touch.contains("AND NOT saw_several_variants"));
        s.handling = MultipleExposureHandling::Exclude;
        let exclude = compile_exposures(&s).unwrap().sql;
        assert!(exclude.contains("countIf(variant = {p7:String} AND NOT saw_several_variants)"));
        assert!(exclude.contains("AND saw_several_variants) AS multiple_exposures"));
    }

    #[test]
    fn assignments_drop_unknown_variants_and_under_exclude_multiple_exposures() {
        let mut params = Params::new();
        let mut s = scope();
        s.handling = MultipleExposureHandling::Exclude;
        let bound = BoundScope::bind(&s, &mut params).unwrap();
        let cte = assignments_cte(&bound);
        assert_eq!(
            cte.body,
            "SELECT identifier, variant, first_exposure\nFROM exposures\n\
             WHERE has([{p7:String}, {p8:String}], variant)\n    AND NOT saw_several_variants\n"
        );
    }
}
