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
            event = {p11:String})) AS events_0,
        arrayDistinct(groupArrayIf(metric_event, event = {p12:String})) AS events_1,
        arrayDistinct(groupArrayIf(metric_event, event = {p13:String})) AS events_2
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
                AND e.timestamp <= {p6:DateTime64(3, 'UTC')}, a.events_0)),
            toFloat64(arrayCount(e -> e.timestamp >= a.first_exposure + toIntervalSecond({p14:Int64})
                AND e.timestamp <= {p6:DateTime64(3, 'UTC')}
                AND (JSONType(e.metadata, {p15:String}) = 'String' AND position(JSONExtractString(e.metadata, {p15:String}), {p16:String}) > 0)
                AND (JSONExtractRaw(e.metadata, {p17:String}) = 'true')
                AND NOT (JSONExtractRaw(e.metadata, {p18:String}) = 'true'), a.events_1)),
            arraySum(arrayFilter(x -> isFinite(x), arrayMap(e -> if(e.timestamp >= a.first_exposure
                AND e.timestamp < a.first_exposure + toIntervalSecond({p19:Int64})
                AND (JSONType(e.metadata, {p20:String}) = 'String' AND has({p21:Array(String)}, JSONExtractString(e.metadata, {p20:String})))
                AND NOT JSONHas(e.metadata, {p22:String})
                AND NOT has({p24:Array(Float64)}, toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p23:String})))),
                ifNull(toFloat64OrNull(e.value), nan), nan), a.events_2))),
            if(empty(arrayFilter(x -> isFinite(x), arrayMap(e -> if(e.timestamp >= a.first_exposure + toIntervalSecond({p25:Int64})
                AND e.timestamp < a.first_exposure + toIntervalSecond({p26:Int64})
                AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p27:String}))) >= {p28:Float64}, 0)
                AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p29:String}))) < {p30:Float64}, 0)
                AND NOT (JSONType(e.metadata, {p31:String}) = 'String' AND JSONExtractString(e.metadata, {p31:String}) = {p32:String})
                AND JSONHas(e.metadata, {p33:String}),
                ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p34:String}))), nan), nan), a.events_2)) AS m3_values), NULL, arrayAvg(m3_values)),
            toFloat64(arrayCount(e -> e.timestamp >= a.first_exposure
                AND e.timestamp <= {p6:DateTime64(3, 'UTC')}
                AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p35:String}))) > {p36:Float64}, 0)
                AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p37:String}))) <= {p38:Float64}, 0)
                AND (JSONType(e.metadata, {p39:String}) = 'String' AND JSONExtractString(e.metadata, {p39:String}) = {p40:String})
                AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p41:String}))) = {p42:Float64}, 0)
                AND has({p44:Array(Float64)}, toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p43:String}))))
                AND NOT (JSONType(e.metadata, {p45:String}) = 'String' AND has({p46:Array(String)}, JSONExtractString(e.metadata, {p45:String}))), a.events_2))
        ] AS metric_values
    FROM identities AS a
    WHERE a.variants_seen = 1 AND has([{p7:String}, {p8:String}], a.variant)
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
-- p13 = purchase
-- p14 = 3600
-- p15 = path
-- p16 = pricing
-- p17 = mobile
-- p18 = bot
-- p19 = 86400
-- p20 = plan
-- p21 = ['pro','team']
-- p22 = coupon
-- p23 = items
-- p24 = [0]
-- p25 = 60
-- p26 = 259200
-- p27 = amount
-- p28 = 10
-- p29 = amount
-- p30 = 1000
-- p31 = country
-- p32 = FR
-- p33 = tier
-- p34 = amount
-- p35 = amount
-- p36 = 5
-- p37 = amount
-- p38 = 500
-- p39 = plan
-- p40 = pro
-- p41 = items
-- p42 = 2
-- p43 = channel
-- p44 = [1,2]
-- p45 = plan
-- p46 = ['free']
