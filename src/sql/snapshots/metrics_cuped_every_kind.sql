WITH
assignments AS (
    SELECT
        sipHash128(identifier) AS key,
        argMin(value, (timestamp, value)) AS variant,
        min(timestamp) AS first_exposure,
        min(value) != max(value) AS several_variants,
        indexOf([{p7:String}, {p8:String}], variant) AS variant_index,
        rowNumberInAllBlocks() AS identity
    FROM {p0:Identifier}.{p1:Identifier}
    WHERE environment_key = {p2:String}
        AND event = {p3:String}
        AND feature_name = {p4:String}
        AND timestamp >= {p5:DateTime64(3, 'UTC')}
        AND timestamp <= {p6:DateTime64(3, 'UTC')}
    GROUP BY identifier
    HAVING NOT several_variants AND has([{p7:String}, {p8:String}], variant)
),
metric_events AS (
    SELECT
        sipHash128(e.identifier) AS key,
        e.event AS event,
        e.timestamp AS timestamp,
        (e.event = {p12:String}
            AND (JSONType(e.metadata, {p15:String}) = 'String' AND position(JSONExtractString(e.metadata, {p15:String}), {p16:String}) > 0)
            AND (JSONExtractRaw(e.metadata, {p17:String}) = 'true')
            AND NOT (JSONExtractRaw(e.metadata, {p18:String}) = 'true')) AS c0,
        (e.event = {p13:String}
            AND (JSONType(e.metadata, {p20:String}) = 'String' AND has({p21:Array(String)}, JSONExtractString(e.metadata, {p20:String})))
            AND NOT JSONHas(e.metadata, {p22:String})
            AND NOT has({p24:Array(Float64)}, toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p23:String}))))) AS c1,
        (if(e.event = {p13:String}, ifNull(toFloat64OrNull(e.value), nan), nan)) AS c2,
        (e.event = {p13:String}
            AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p27:String}))) >= {p28:Float64}, 0)
            AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p29:String}))) < {p30:Float64}, 0)
            AND NOT (JSONType(e.metadata, {p31:String}) = 'String' AND JSONExtractString(e.metadata, {p31:String}) = {p32:String})
            AND JSONHas(e.metadata, {p33:String})) AS c3,
        (if(e.event = {p13:String}, ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p34:String}))), nan), nan)) AS c4,
        (e.event = {p13:String}
            AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p35:String}))) > {p36:Float64}, 0)
            AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p37:String}))) <= {p38:Float64}, 0)
            AND (JSONType(e.metadata, {p39:String}) = 'String' AND JSONExtractString(e.metadata, {p39:String}) = {p40:String})
            AND ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p41:String}))) = {p42:Float64}, 0)
            AND has({p44:Array(Float64)}, toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p43:String}))))
            AND NOT (JSONType(e.metadata, {p45:String}) = 'String' AND has({p46:Array(String)}, JSONExtractString(e.metadata, {p45:String})))) AS c5
    FROM {p0:Identifier}.{p1:Identifier} AS e FINAL
    WHERE e.environment_key = {p2:String}
        AND e.event IN {p9:Array(String)}
        AND e.timestamp >= {p48:DateTime64(3, 'UTC')}
        AND e.timestamp <= {p10:DateTime64(3, 'UTC')}
),
identities AS (
    SELECT
        any(a.variant_index) AS variant_index,
        toFloat64(countIf(e.event = {p11:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')}) > 0) AS m0,
        toFloat64(countIf(e.event = {p12:String}
            AND e.timestamp >= a.first_exposure + toIntervalSecond({p14:Int64})
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')}
            AND e.c0)) AS m1,
        sumIf(e.c2, e.event = {p13:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp < a.first_exposure + toIntervalSecond({p19:Int64})
            AND e.c1
            AND isFinite(e.c2)) AS m2,
        avgOrNullIf(e.c4, e.event = {p13:String}
            AND e.timestamp >= a.first_exposure + toIntervalSecond({p25:Int64})
            AND e.timestamp < a.first_exposure + toIntervalSecond({p26:Int64})
            AND e.c3
            AND isFinite(e.c4)) AS m3,
        toFloat64(countIf(e.event = {p13:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')}
            AND e.c5)) AS m4,
        toFloat64(countIf(e.event = {p11:String}
            AND e.timestamp >= a.first_exposure - toIntervalSecond({p47:Int64})
            AND e.timestamp < a.first_exposure) > 0) AS x0,
        toFloat64(countIf(e.event = {p12:String}
            AND e.timestamp >= a.first_exposure - toIntervalSecond({p47:Int64})
            AND e.timestamp < a.first_exposure
            AND e.c0)) AS x1,
        sumIf(e.c2, e.event = {p13:String}
            AND e.timestamp >= a.first_exposure - toIntervalSecond({p47:Int64})
            AND e.timestamp < a.first_exposure
            AND e.c1
            AND isFinite(e.c2)) AS x2,
        toFloat64(countIf(e.event = {p13:String}
            AND e.timestamp >= a.first_exposure - toIntervalSecond({p47:Int64})
            AND e.timestamp < a.first_exposure
            AND e.c5)) AS x4
    FROM metric_events AS e
    RIGHT JOIN assignments AS a ON e.key = a.key
    GROUP BY a.identity
)
SELECT
    toUInt32(metric_index - 1) AS metric,
    arrayElement([{p7:String}, {p8:String}], variant_index) AS variant,
    n,
    sum,
    sum_sq,
    den_sum,
    den_sum_sq,
    num_den_sum,
    sum_x,
    sum_x2,
    sum_xy,
    step_reached,
    capped_identities,
    cap_upper,
    cap_lower,
    quantile_level,
    if(isNull(quantile_level), NULL, toUInt64(length(quantile_values))) AS quantile_n,
    if(isNull(quantile_level), NULL, toUInt64(greatest(100, arrayMax(arrayFilter(g -> g < length(quantile_values), [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 102400, 204800, 409600, 819200, 1638400, 3276800, 6553600, 13107200, 26214400, 52428800]))))) AS quantile_nstar,
    if(empty(quantile_values), NULL, arrayElement(quantile_values, toUInt64(floor(((greatest(length(quantile_values), 1) - 1) * quantile_level) AS quantile_h)) + 1) + (quantile_h - floor(quantile_h)) * (arrayElement(quantile_values, least(toUInt64(floor(quantile_h)) + 2, length(quantile_values))) - arrayElement(quantile_values, toUInt64(floor(quantile_h)) + 1))) AS quantile,
    if(empty(quantile_values), NULL, arrayElement(quantile_values, toUInt64(floor(((greatest(length(quantile_values), 1) - 1) * greatest(quantile_level - 1.959963984540054 * sqrt(quantile_level * (1 - quantile_level) / quantile_nstar), 0.00000001)) AS quantile_h_lower)) + 1) + (quantile_h_lower - floor(quantile_h_lower)) * (arrayElement(quantile_values, least(toUInt64(floor(quantile_h_lower)) + 2, length(quantile_values))) - arrayElement(quantile_values, toUInt64(floor(quantile_h_lower)) + 1))) AS quantile_lower,
    if(empty(quantile_values), NULL, arrayElement(quantile_values, toUInt64(floor(((greatest(length(quantile_values), 1) - 1) * least(quantile_level + 1.959963984540054 * sqrt(quantile_level * (1 - quantile_level) / quantile_nstar), 0.99999999)) AS quantile_h_upper)) + 1) + (quantile_h_upper - floor(quantile_h_upper)) * (arrayElement(quantile_values, least(toUInt64(floor(quantile_h_upper)) + 2, length(quantile_values))) - arrayElement(quantile_values, toUInt64(floor(quantile_h_upper)) + 1))) AS quantile_upper,
    quantile_main_sum,
    quantile_main_sum_sq,
    quantile_main_den_sum,
    quantile_den_sum_sq
FROM (
    SELECT
        variant_index,
        [count(m0), count(m1), count(m2), count(m3), count(m4)] AS n_by_metric,
        [sum(ifNull(m0, 0)), sum(ifNull(m1, 0)), sum(ifNull(m2, 0)), sum(ifNull(m3, 0)), sum(ifNull(m4, 0))] AS sum_by_metric,
        [sum(ifNull(m0 * m0, 0)), sum(ifNull(m1 * m1, 0)), sum(ifNull(m2 * m2, 0)), sum(ifNull(m3 * m3, 0)), sum(ifNull(m4 * m4, 0))] AS sum_sq_by_metric,
        CAST([NULL, NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS den_sum_by_metric,
        CAST([NULL, NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS den_sum_sq_by_metric,
        CAST([NULL, NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS num_den_sum_by_metric,
        CAST([sum(x0), sum(x1), sum(x2), NULL, sum(x4)] AS Array(Nullable(Float64))) AS sum_x_by_metric,
        CAST([sum(x0 * x0), sum(x1 * x1), sum(x2 * x2), NULL, sum(x4 * x4)] AS Array(Nullable(Float64))) AS sum_x2_by_metric,
        CAST([sum(x0 * m0), sum(x1 * m1), sum(x2 * m2), NULL, sum(x4 * m4)] AS Array(Nullable(Float64))) AS sum_xy_by_metric,
        CAST([[], [], [], [], []] AS Array(Array(UInt64))) AS step_reached_by_metric,
        CAST([0, 0, 0, 0, 0] AS Array(UInt64)) AS capped_by_metric,
        CAST([NULL, NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS cap_upper_by_metric,
        CAST([NULL, NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS cap_lower_by_metric,
        CAST([[], [], [], [], []] AS Array(Array(Float64))) AS quantile_values_by_metric,
        CAST([NULL, NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS quantile_level_by_metric,
        CAST([NULL, NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS quantile_main_sum_by_metric,
        CAST([NULL, NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS quantile_main_sum_sq_by_metric,
        CAST([NULL, NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS quantile_main_den_sum_by_metric,
        CAST([NULL, NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS quantile_den_sum_sq_by_metric
    FROM identities
    GROUP BY variant_index
)
ARRAY JOIN
    n_by_metric AS n,
    sum_by_metric AS sum,
    sum_sq_by_metric AS sum_sq,
    den_sum_by_metric AS den_sum,
    den_sum_sq_by_metric AS den_sum_sq,
    num_den_sum_by_metric AS num_den_sum,
    sum_x_by_metric AS sum_x,
    sum_x2_by_metric AS sum_x2,
    sum_xy_by_metric AS sum_xy,
    step_reached_by_metric AS step_reached,
    capped_by_metric AS capped_identities,
    cap_upper_by_metric AS cap_upper,
    cap_lower_by_metric AS cap_lower,
    quantile_values_by_metric AS quantile_values,
    quantile_level_by_metric AS quantile_level,
    quantile_main_sum_by_metric AS quantile_main_sum,
    quantile_main_sum_sq_by_metric AS quantile_main_sum_sq,
    quantile_main_den_sum_by_metric AS quantile_main_den_sum,
    quantile_den_sum_sq_by_metric AS quantile_den_sum_sq,
    arrayEnumerate(n_by_metric) AS metric_index
WHERE n > 0
ORDER BY metric, variant_index
SETTINGS do_not_merge_across_partitions_select_final = 1

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
-- p47 = 1209600
-- p48 = 2024-02-16 00:00:00.000
