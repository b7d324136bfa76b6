SELECT
    shard.metric AS metric,
    shard.variant AS variant,
    sum(shard.n) AS n,
    sum(shard.sum) AS sum,
    sum(shard.sum_sq) AS sum_sq
FROM cluster({p16:String}, view(
    WITH
    identities AS (
        SELECT
            identifier,
            argMinIf(value, (timestamp, value),
                (event = {p3:String} AND feature_name = {p4:String} AND timestamp <= {p6:DateTime64(3, 'UTC')}) AS is_exposure) AS variant,
            minIf(timestamp, is_exposure) AS first_exposure,
            uniqExactIf(value, is_exposure) AS variants_seen,
            arrayDistinct(groupArrayIf(
                CAST((timestamp, value, metadata) AS Tuple(timestamp DateTime64(3, 'UTC'), value String, metadata String)) AS metric_event,
                event = {p11:String})) AS events_0
        FROM {p0:Identifier}.{p1:Identifier}
        WHERE environment_key = {p2:String}
            AND (event = {p3:String} OR event IN {p9:Array(String)})
            AND timestamp >= {p5:DateTime64(3, 'UTC')}
            AND timestamp <= {p10:DateTime64(3, 'UTC')}
        GROUP BY identifier
    ),
    entity_metrics AS (
        SELECT
            a.variant AS variant,
            [
                toFloat64(arrayExists(e -> e.timestamp >= a.first_exposure
                    AND e.timestamp < a.first_exposure + toIntervalSecond({p12:Int64})
                    AND (JSONType(e.metadata, {p13:String}) = 'String' AND has({p14:Array(String)}, JSONExtractString(e.metadata, {p13:String}))), a.events_0)),
                if(empty(arrayFilter(x -> isFinite(x), arrayMap(e -> if(e.timestamp >= a.first_exposure
                    AND e.timestamp <= {p6:DateTime64(3, 'UTC')},
                    ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p15:String}))), nan), nan), a.events_0)) AS m1_values), NULL, arrayAvg(m1_values))
            ] AS metric_values
        FROM identities AS a
        WHERE a.variants_seen >= 1 AND has([{p7:String}, {p8:String}], a.variant)
    )
    SELECT
        toUInt32(metric_index - 1) AS metric,
        variant,
        count() AS n,
        sum(assumeNotNull(metric_value)) AS sum,
        sum(assumeNotNull(metric_value) * assumeNotNull(metric_value)) AS sum_sq
    FROM entity_metrics
    ARRAY JOIN
        metric_values AS metric_value,
        arrayEnumerate(metric_values) AS metric_index
    WHERE metric_value IS NOT NULL
    GROUP BY metric, variant
)) AS shard
GROUP BY metric, variant
ORDER BY metric, indexOf([{p7:String}, {p8:String}], variant)
SETTINGS skip_unavailable_shards = 0

-- p0 = default
-- p1 = events
-- p2 = prod
-- p3 = $feature_flag_called
-- p4 = new-checkout
-- p5 = 2024-03-01 00:00:00.000
-- p6 = 2024-03-15 00:00:00.000
-- p7 = control
-- p8 = treatment
-- p9 = ['purchase']
-- p10 = 2024-03-22 00:00:00.000
-- p11 = purchase
-- p12 = 604800
-- p13 = plan
-- p14 = ['pro','team']
-- p15 = amount
-- p16 = lift_two_shards
