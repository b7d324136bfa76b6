//! Results queries on a sharded cluster: the whole per-identity pipeline runs on every shard, and
//! the initiator only adds up the shards' small per-variant rows.
//!
//! Teams shard events on `identifier` (a `Distributed` table with sharding key
//! `cityHash64(identifier)`), so every event of an identity lives on one shard. Each compiled query
//! groups by identity first and only then aggregates per variant into counts and sums, and counts
//! and sums of disjoint sets of identities add up. So the query each shard runs is exactly the
//! single-server query over its local table, and [`merged_on_cluster`] wraps it:
//!
//! ```sql
//! SELECT shard.variant AS variant, sum(shard.n) AS n, …
//! FROM cluster({pN:String}, view(<the single-server query, without ORDER BY>)) AS shard
//! GROUP BY variant
//! ORDER BY …
//! SETTINGS skip_unavailable_shards = 0
//! ```
//!
//! Only `keys × shards` rows cross the network. The alternative of querying the `Distributed`
//! table would run just the innermost `GROUP BY identifier` on the shards and stream one row (with
//! its arrays of events) per identity to the initiator, or, with
//! `optimize_distributed_group_by_sharding_key`, still every per-identity row: the stages after
//! it run on the initiator either way. `cluster()` with `view()` also needs no `Distributed` table
//! at all, only the local tables and the cluster's name.
//!
//! Values stay parameters: the initiator substitutes `{pN:Type}` placeholders before it sends the
//! view's query to the shards (typed literals, never text spliced by lift), and the cluster name
//! is one more `String` parameter. `skip_unavailable_shards = 0` (ClickHouse's default, stated so
//! a user profile cannot change it) makes a shard that cannot answer fail the query: skipping it
//! would silently report an experiment with some identities missing. Every other limit
//! (`max_execution_time`, `max_memory_usage`) travels with the query to the shards, where the
//! memory limit applies per server.

use super::param::Params;
use super::query::{assemble, indent, CompiledQuery, Cte};
use super::scope::Placement;

/// How rows of the shards combine: grouped again by `keys`, `sums` added, then `order_by`.
pub(super) struct ShardMerge<'a> {
    /// Columns that identify a row (each shard returns each key at most once).
    pub keys: &'a [&'a str],
    /// Columns that are counts or sums over identities, so they add up across shards.
    pub sums: &'a [&'a str],
    /// Array columns of counts, added up element by element (`sumForEach`).
    pub elementwise_sums: &'a [&'a str],
    /// Columns every shard computes alike (taken from any shard).
    pub same: &'a [&'a str],
    /// The final order (on one server the single query's own order, if any, is used).
    pub order_by: &'a str,
}

/// Assembles a query whose final `select` (without `ORDER BY`) yields `merge`'s columns: on one
/// server as it is, followed by `single_order` when given; on a cluster run per shard and merged.
pub(super) fn place(
    placement: &Placement,
    ctes: &[Cte],
    select: &str,
    single_order: Option<&str>,
    merge: &ShardMerge<'_>,
    params: Params,
) -> CompiledQuery {
    match placement {
        Placement::Single => match single_order {
            Some(order) => assemble(ctes, &format!("{select}ORDER BY {order}\n"), params),
            None => assemble(ctes, select, params),
        },
        Placement::Cluster(cluster) => {
            merged_on_cluster(assemble(ctes, select, params), cluster, merge)
        }
    }
}

/// Runs `per_shard` on every shard of `cluster` and merges its rows on the initiator.
pub(super) fn merged_on_cluster(
    per_shard: CompiledQuery,
    cluster: &str,
    merge: &ShardMerge<'_>,
) -> CompiledQuery {
    let mut params = Params::continuing(per_shard.params);
    let cluster = params.string(cluster);
    let mut columns: Vec<String> = merge
        .keys
        .iter()
        .map(|key| format!("    shard.{key} AS {key}"))
        .collect();
    columns.extend(
        merge
            .sums
            .iter()
            .map(|column| format!("    sum(shard.{column}) AS {column}")),
    );
    columns.extend(
        merge
            .elementwise_sums
            .iter()
            .map(|column| format!("    sumForEach(shard.{column}) AS {column}")),
    );
    columns.extend(
        merge
            .same
            .iter()
            .map(|column| format!("    any(shard.{column}) AS {column}")),
    );
    let group_by = if merge.keys.is_empty() {
        String::new()
    } else {
        format!("GROUP BY {}\n", merge.keys.join(", "))
    };
    let order_by = if merge.order_by.is_empty() {
        String::new()
    } else {
        format!("ORDER BY {}\n", merge.order_by)
    };
    let sql = format!(
        "SELECT
{columns}
FROM cluster({cluster}, view(
{inner}
)) AS shard
{group_by}{order_by}SETTINGS skip_unavailable_shards = 0
",
        columns = columns.join(",\n"),
        inner = indent(&per_shard.sql).trim_end(),
    );
    assemble(&[], &sql, params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fixtures::param_text;

    #[test]
    fn shards_run_the_query_and_the_initiator_adds_up_their_rows() {
        let mut params = Params::new();
        let v = params.string("control");
        let per_shard = assemble(
            &[],
            &format!("SELECT {v} AS variant, count() AS n\nFROM t\nGROUP BY variant\n"),
            params,
        );
        let merge = ShardMerge {
            keys: &["variant"],
            sums: &["n"],
            elementwise_sums: &[],
            same: &[],
            order_by: "variant",
        };
        let query = merged_on_cluster(per_shard, "analytics", &merge);
        assert_eq!(
            query.sql,
            "SELECT
    shard.variant AS variant,
    sum(shard.n) AS n
FROM cluster({p1:String}, view(
    SELECT {p0:String} AS variant, count() AS n
    FROM t
    GROUP BY variant
)) AS shard
GROUP BY variant
ORDER BY variant
SETTINGS skip_unavailable_shards = 0
"
        );
        assert_eq!(param_text(&query, "p0"), "control");
        assert_eq!(param_text(&query, "p1"), "analytics");
    }

    #[test]
    fn one_server_keeps_the_single_query_and_its_order() {
        let merge = ShardMerge {
            keys: &[],
            sums: &["n"],
            elementwise_sums: &[],
            same: &[],
            order_by: "",
        };
        let select = "SELECT count() AS n\nFROM t\n";
        let single = place(
            &Placement::Single,
            &[],
            select,
            Some("n"),
            &merge,
            Params::new(),
        );
        assert_eq!(single.sql, "SELECT count() AS n\nFROM t\nORDER BY n\n");
        let clustered = place(
            &Placement::Cluster("c".into()),
            &[],
            select,
            Some("n"),
            &merge,
            Params::new(),
        );
        assert!(clustered.sql.starts_with("SELECT\n    sum(shard.n) AS n\n"));
        assert!(clustered.sql.contains(")) AS shard\nSETTINGS"));
    }
}
