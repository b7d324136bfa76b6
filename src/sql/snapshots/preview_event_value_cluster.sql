SELECT
    sum(events_matching) AS matching_events,
    countIf(events_matching > 0) AS identities,
    count() AS identities_in_period,
    countIf(events_valued > 0) AS identities_with_value,
    quantilesExactInclusiveIf(0.5, 0.9, 0.99)(value_total, events_valued > 0) AS value_quantiles,
    maxIf(value_total, events_valued > 0) AS max_value,
    sum(events_named) AS event_rows,
    [sum(rows_with_property_0), sum(rows_with_property_1)] AS property_rows,
    sum(events_not_numeric) AS values_not_numeric
FROM cluster({p12:String}, view(
    WITH
    scanned AS (
        SELECT
            e.identifier AS identifier,
            (e.event = {p5:String}) AS named,
            (e.event = {p5:String}
                AND (JSONType(e.metadata, {p6:String}) = 'String' AND has({p7:Array(String)}, JSONExtractString(e.metadata, {p6:String})))
                AND NOT (JSONType(e.metadata, {p8:String}) = 'String' AND JSONExtractString(e.metadata, {p8:String}) = {p9:String})) AS matching,
            (e.event = {p5:String} AND JSONHas(e.metadata, {p10:String})) AS has_property_0,
            (e.event = {p5:String} AND JSONHas(e.metadata, {p11:String})) AS has_property_1,
            (if(e.event = {p5:String}
                AND (JSONType(e.metadata, {p6:String}) = 'String' AND has({p7:Array(String)}, JSONExtractString(e.metadata, {p6:String})))
                AND NOT (JSONType(e.metadata, {p8:String}) = 'String' AND JSONExtractString(e.metadata, {p8:String}) = {p9:String}), ifNull(toFloat64OrNull(e.value), nan), nan)) AS value_number,
            (e.event = {p5:String}
                AND (JSONType(e.metadata, {p6:String}) = 'String' AND has({p7:Array(String)}, JSONExtractString(e.metadata, {p6:String})))
                AND NOT (JSONType(e.metadata, {p8:String}) = 'String' AND JSONExtractString(e.metadata, {p8:String}) = {p9:String})
                AND e.value != ''
                AND NOT isFinite(ifNull(toFloat64OrNull(e.value), nan))) AS value_not_numeric
        FROM {p0:Identifier}.{p1:Identifier} AS e FINAL
        WHERE e.environment_key = {p2:String}
            AND e.timestamp >= {p3:DateTime64(3, 'UTC')}
            AND e.timestamp <= {p4:DateTime64(3, 'UTC')}
    )
    SELECT
        countIf(matching) AS events_matching,
        countIf(named) AS events_named,
        countIf(has_property_0) AS rows_with_property_0,
        countIf(has_property_1) AS rows_with_property_1,
        countIf(isFinite(value_number)) AS events_valued,
        sumIf(value_number, isFinite(value_number)) AS value_total,
        countIf(value_not_numeric) AS events_not_numeric
    FROM scanned
    GROUP BY identifier
    SETTINGS do_not_merge_across_partitions_select_final = 1
)) AS per_identity
SETTINGS skip_unavailable_shards = 0

-- p0 = default
-- p1 = events
-- p2 = prod
-- p3 = 2024-03-08 00:00:00.000
-- p4 = 2024-03-15 00:00:00.000
-- p5 = purchase
-- p6 = plan
-- p7 = ['pro','team']
-- p8 = country
-- p9 = FR
-- p10 = plan
-- p11 = country
-- p12 = lift_two_shards
