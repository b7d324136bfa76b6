//! A cheap check that an environment sends exposure events at all (before computing results).

use super::cluster::{place, ShardMerge};
use super::param::Params;
use super::query::CompiledQuery;
use super::scope::EventsTable;

/// One row `exposures UInt64`: the environment's events named `exposure_event`, any feature, any
/// time. Reads only the primary-key range `(environment_key, event)`.
///
/// Infallible, so the table name is not checked as `compile_exposures` checks it: a name a client
/// would escape (quotes, backslashes…) reaches ClickHouse altered and fails as an unknown table; it
/// is a parameter either way and cannot change the query.
pub fn compile_exposure_probe(
    table: &EventsTable,
    environment_key: &str,
    exposure_event: &str,
) -> CompiledQuery {
    let mut params = Params::new();
    let placement = &table.placement;
    let database = params.identifier(&table.database);
    let table = params.identifier(&table.table);
    let select = format!(
        "SELECT count() AS exposures
FROM {database}.{table}
WHERE environment_key = {environment}
    AND event = {exposure_event}
",
        environment = params.string(environment_key),
        exposure_event = params.string(exposure_event),
    );
    let merge = ShardMerge {
        keys: &[],
        sums: &["exposures"],
        elementwise_sums: &[],
        same: &[],
        order_by: "",
    };
    place(placement, &[], &select, None, &merge, params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fixtures::{param_text, scope};

    #[test]
    fn the_probe_counts_exposure_events_of_the_environment() {
        let s = scope();
        let query = compile_exposure_probe(&s.table, "prod", "$exposure");
        assert_eq!(
            query.sql,
            "SELECT count() AS exposures\nFROM {p0:Identifier}.{p1:Identifier}\n\
             WHERE environment_key = {p2:String}\n    AND event = {p3:String}\n"
        );
        assert_eq!(param_text(&query, "p2"), "prod");
        assert_eq!(param_text(&query, "p3"), "$exposure");
    }
}
