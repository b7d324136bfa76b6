WITH
exposures AS (
    SELECT
        identifier,
        argMin(value, (timestamp, value)) AS variant,
        min(timestamp) AS first_exposure,
        uniqExact(value) > 1 AS saw_several_variants
    FROM {p0:Identifier}.{p1:Identifier}
    WHERE environment_key = {p2:String}
        AND event = {p3:String}
        AND feature_name = {p4:String}
        AND timestamp >= {p5:DateTime64(3, 'UTC')}
        AND timestamp <= {p6:DateTime64(3, 'UTC')}
    GROUP BY identifier
),
assignments AS (
    SELECT identifier, variant, first_exposure
    FROM exposures
    WHERE has([{p7:String}, {p8:String}], variant)
),
metric_events AS (
    SELECT DISTINCT identifier, event, timestamp, value, metadata
    FROM {p0:Identifier}.{p1:Identifier}
    WHERE environment_key = {p2:String}
        AND event IN {p9:Array(String)}
        AND timestamp >= {p5:DateTime64(3, 'UTC')}
        AND timestamp <= {p10:DateTime64(3, 'UTC')}
),
entity_events AS (
    SELECT
        a.identifier AS identifier,
        a.variant AS variant,
        (e.event = {p11:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp < a.first_exposure + toIntervalSecond({p12:Int64})
            AND (JSONType(e.metadata, {p13:String}) = 'String' AND has({p14:Array(String)}, JSONExtractString(e.metadata, {p13:String})))) AS m0_hit,
        if(e.event = {p15:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')},
            toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p16:String}))), NULL) AS m1_value
    FROM metric_events AS e
    RIGHT JOIN assignments AS a ON e.identifier = a.identifier
),
entity_metrics AS (
    SELECT
        variant,
        [
            toFloat64(countIf(m0_hit) > 0),
            avgIf(m1_value, isFinite(m1_value))
        ] AS metric_values
    FROM entity_events
    GROUP BY identifier, variant
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
ORDER BY metric, indexOf([{p7:String}, {p8:String}], variant)

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
-- p15 = purchase
-- p16 = amount
