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
        AND NOT saw_several_variants
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
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')}) AS m0_hit,
        (e.event = {p12:String}
            AND e.timestamp >= a.first_exposure + toIntervalSecond({p13:Int64})
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')}
            AND (JSONType(e.metadata, {p14:String}) = 'String' AND position(JSONExtractString(e.metadata, {p14:String}), {p15:String}) > 0)
            AND (JSONExtractRaw(e.metadata, {p16:String}) = 'true')
            AND NOT (JSONExtractRaw(e.metadata, {p17:String}) = 'true')) AS m1_hit,
        if(e.event = {p18:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp < a.first_exposure + toIntervalSecond({p19:Int64})
            AND (JSONType(e.metadata, {p20:String}) = 'String' AND has({p21:Array(String)}, JSONExtractString(e.metadata, {p20:String})))
            AND NOT JSONHas(e.metadata, {p22:String})
            AND NOT has({p24:Array(Float64)}, toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p23:String})))),
            toFloat64OrNull(e.value), NULL) AS m2_value,
        if(e.event = {p25:String}
            AND e.timestamp >= a.first_exposure + toIntervalSecond({p26:Int64})
            AND e.timestamp < a.first_exposure + toIntervalSecond({p27:Int64})
            AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p28:String}))) >= {p29:Float64}, 0)
            AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p30:String}))) < {p31:Float64}, 0)
            AND NOT (JSONType(e.metadata, {p32:String}) = 'String' AND JSONExtractString(e.metadata, {p32:String}) = {p33:String})
            AND JSONHas(e.metadata, {p34:String}),
            toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p35:String}))), NULL) AS m3_value,
        (e.event = {p36:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')}
            AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p37:String}))) > {p38:Float64}, 0)
            AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p39:String}))) <= {p40:Float64}, 0)
            AND (JSONType(e.metadata, {p41:String}) = 'String' AND JSONExtractString(e.metadata, {p41:String}) = {p42:String})
            AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p43:String}))) = {p44:Float64}, 0)
            AND has({p46:Array(Float64)}, toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p45:String}))))
            AND NOT (JSONType(e.metadata, {p47:String}) = 'String' AND has({p48:Array(String)}, JSONExtractString(e.metadata, {p47:String})))) AS m4_hit
    FROM metric_events AS e
    RIGHT JOIN assignments AS a ON e.identifier = a.identifier
),
entity_metrics AS (
    SELECT
        variant,
        [
            toFloat64(countIf(m0_hit) > 0),
            toFloat64(countIf(m1_hit)),
            coalesce(sumIf(m2_value, isFinite(m2_value)), 0),
            avgIf(m3_value, isFinite(m3_value)),
            toFloat64(countIf(m4_hit))
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
-- p9 = ['signup','page_view','purchase']
-- p10 = 2024-03-18 00:00:00.000
-- p11 = signup
-- p12 = page_view
-- p13 = 3600
-- p14 = path
-- p15 = pricing
-- p16 = mobile
-- p17 = bot
-- p18 = purchase
-- p19 = 86400
-- p20 = plan
-- p21 = ['pro','team']
-- p22 = coupon
-- p23 = items
-- p24 = [0]
-- p25 = purchase
-- p26 = 60
-- p27 = 259200
-- p28 = amount
-- p29 = 10
-- p30 = amount
-- p31 = 1000
-- p32 = country
-- p33 = FR
-- p34 = tier
-- p35 = amount
-- p36 = purchase
-- p37 = amount
-- p38 = 5
-- p39 = amount
-- p40 = 500
-- p41 = plan
-- p42 = pro
-- p43 = items
-- p44 = 2
-- p45 = channel
-- p46 = [1,2]
-- p47 = plan
-- p48 = ['free']
