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
    HAVING has([{p7:String}, {p8:String}], variant)
),
metric_events AS (
    SELECT
        sipHash128(e.identifier) AS key,
        e.event AS event,
        e.timestamp AS timestamp,
        any(e.event = {p15:String}) AS c0,
        any(e.event = {p16:String}
            AND (JSONType(e.metadata, {p17:String}) = 'String' AND JSONExtractString(e.metadata, {p17:String}) = {p18:String})) AS c1,
        any(e.event = {p19:String}) AS c2,
        any(if(e.event = {p13:String}, ifNull(toFloat64OrNull(e.value), nan), nan)) AS c3
    FROM {p0:Identifier}.{p1:Identifier} AS e
    WHERE e.environment_key = {p2:String}
        AND e.event IN {p9:Array(String)}
        AND e.timestamp >= {p21:DateTime64(3, 'UTC')}
        AND e.timestamp <= {p10:DateTime64(3, 'UTC')}
    GROUP BY e.identifier, e.event, e.feature_name, e.timestamp, e.value, sipHash128(e.metadata)
),
identities AS (
    SELECT
        any(a.variant_index) AS variant_index,
        toFloat64(s0 = 3) AS m0,
        toFloat64(countIf(e.event = {p13:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')})) AS m1,
        sumIf(e.c3, e.event = {p13:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')}
            AND isFinite(e.c3)) AS m2,
        avgOrNullIf(e.c3, e.event = {p13:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')}
            AND isFinite(e.c3)) AS m3,
        toFloat64(toUInt8(isNotNull(minOrNullIf(toUnixTimestamp64Milli(e.timestamp), e.timestamp >= a.first_exposure - toIntervalSecond({p20:Int64})
            AND e.timestamp < a.first_exposure
            AND e.c0) AS fx0_1)
        + isNotNull(arrayReduce('minOrNull', arrayFilter(t -> t > ifNull(fx0_1, 9223372036854775807), groupArrayIf(toUnixTimestamp64Milli(e.timestamp), e.timestamp >= a.first_exposure - toIntervalSecond({p20:Int64})
            AND e.timestamp < a.first_exposure
            AND e.c1))) AS fx0_2)
        + ifNull(maxOrNullIf(toUnixTimestamp64Milli(e.timestamp), e.timestamp >= a.first_exposure - toIntervalSecond({p20:Int64})
            AND e.timestamp < a.first_exposure
            AND e.c2) > fx0_2, 0)) = 3) AS x0,
        toFloat64(countIf(e.event = {p13:String}
            AND e.timestamp >= a.first_exposure - toIntervalSecond({p20:Int64})
            AND e.timestamp < a.first_exposure)) AS x1,
        sumIf(e.c3, e.event = {p13:String}
            AND e.timestamp >= a.first_exposure - toIntervalSecond({p20:Int64})
            AND e.timestamp < a.first_exposure
            AND isFinite(e.c3)) AS x2,
        toUInt8(isNotNull(minOrNullIf(toUnixTimestamp64Milli(e.timestamp), e.timestamp >= a.first_exposure
            AND e.timestamp < a.first_exposure + toIntervalSecond({p14:Int64})
            AND e.c0) AS f0_1)
        + isNotNull(arrayReduce('minOrNull', arrayFilter(t -> t > ifNull(f0_1, 9223372036854775807), groupArrayIf(toUnixTimestamp64Milli(e.timestamp), e.timestamp >= a.first_exposure
            AND e.timestamp < a.first_exposure + toIntervalSecond({p14:Int64})
            AND e.c1))) AS f0_2)
        + ifNull(maxOrNullIf(toUnixTimestamp64Milli(e.timestamp), e.timestamp >= a.first_exposure
            AND e.timestamp < a.first_exposure + toIntervalSecond({p14:Int64})
            AND e.c2) > f0_2, 0)) AS s0
    FROM metric_events AS e
    RIGHT JOIN assignments AS a ON e.key = a.key
    GROUP BY a.identity
),
capped AS (
    SELECT
        i.variant_index AS variant_index,
        i.m0 AS m0,
        i.x0 AS x0,
        i.s0 AS s0,
        {p22:Float64} AS cu1,
        if(i.m1 > cu1, cu1, i.m1) AS m1,
        (i.m1 > cu1) AS k1,
        if(i.x1 > cu1, cu1, i.x1) AS x1,
        i.m2 AS m2,
        i.x2 AS x2,
        i.m3 AS m3
    FROM identities AS i
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
        groupArrayIf((m2, x2), isNotNull(m2) AND (m2 != 0 OR x2 != 0)) AS v2,
        countIf(m2 = 0 AND x2 = 0) AS z2,
        quantilesExactInclusiveArray({p23:Float64})(arrayFilter(v -> v != 0, arrayMap(p -> p.1, v2))) OVER () AS c2,
        c2[1] AS cu2,
        groupArrayIf(m3, m3 != 0) AS v3,
        countIf(m3 = 0) AS z3,
        quantilesExactInclusiveArray({p24:Float64}, {p25:Float64})(arrayResize(v3, length(v3) + z3, 0.)) OVER () AS c3,
        c3[1] AS cu3,
        c3[2] AS cl3,
        [count(m0), count(m1), count(m2), count(m3)] AS n_by_metric,
        [sum(ifNull(m0, 0)), sum(ifNull(m1, 0)), (arraySum((v, u) -> if(v.1 > u, u, v.1), v2, arrayWithConstant(length(v2), cu2)) + z2 * if(0 > cu2, cu2, 0)), (arraySum((v, u, l) -> if(if(v > u, u, v) < l, l, if(v > u, u, v)), v3, arrayWithConstant(length(v3), cu3), arrayWithConstant(length(v3), cl3)) + z3 * if(if(0 > cu3, cu3, 0) < cl3, cl3, if(0 > cu3, cu3, 0)))] AS sum_by_metric,
        [sum(ifNull(m0 * m0, 0)), sum(ifNull(m1 * m1, 0)), (arraySum((v, u) -> if(v.1 > u, u, v.1) * if(v.1 > u, u, v.1), v2, arrayWithConstant(length(v2), cu2)) + z2 * if(0 > cu2, cu2, 0) * if(0 > cu2, cu2, 0)), (arraySum((v, u, l) -> if(if(v > u, u, v) < l, l, if(v > u, u, v)) * if(if(v > u, u, v) < l, l, if(v > u, u, v)), v3, arrayWithConstant(length(v3), cu3), arrayWithConstant(length(v3), cl3)) + z3 * if(if(0 > cu3, cu3, 0) < cl3, cl3, if(0 > cu3, cu3, 0)) * if(if(0 > cu3, cu3, 0) < cl3, cl3, if(0 > cu3, cu3, 0)))] AS sum_sq_by_metric,
        CAST([NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS den_sum_by_metric,
        CAST([NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS den_sum_sq_by_metric,
        CAST([NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS num_den_sum_by_metric,
        CAST([sum(x0), sum(x1), (arraySum((v, u) -> if(v.2 > u, u, v.2), v2, arrayWithConstant(length(v2), cu2)) + z2 * if(0 > cu2, cu2, 0)), NULL] AS Array(Nullable(Float64))) AS sum_x_by_metric,
        CAST([sum(x0 * x0), sum(x1 * x1), (arraySum((v, u) -> if(v.2 > u, u, v.2) * if(v.2 > u, u, v.2), v2, arrayWithConstant(length(v2), cu2)) + z2 * if(0 > cu2, cu2, 0) * if(0 > cu2, cu2, 0)), NULL] AS Array(Nullable(Float64))) AS sum_x2_by_metric,
        CAST([sum(x0 * m0), sum(x1 * m1), (arraySum((v, u) -> if(v.2 > u, u, v.2) * if(v.1 > u, u, v.1), v2, arrayWithConstant(length(v2), cu2)) + z2 * if(0 > cu2, cu2, 0) * if(0 > cu2, cu2, 0)), NULL] AS Array(Nullable(Float64))) AS sum_xy_by_metric,
        CAST([[countIf(s0 >= 1), countIf(s0 >= 2), countIf(s0 >= 3)], [], [], []] AS Array(Array(UInt64))) AS step_reached_by_metric,
        CAST([0, countIf(k1), toUInt64(arrayCount((v, u) -> (v.1 > u), v2, arrayWithConstant(length(v2), cu2)) + if((0 > cu2), z2, 0)), toUInt64(arrayCount((v, u, l) -> (v > u OR v < l), v3, arrayWithConstant(length(v3), cu3), arrayWithConstant(length(v3), cl3)) + if((0 > cu3 OR 0 < cl3), z3, 0))] AS Array(UInt64)) AS capped_by_metric,
        CAST([NULL, any(cu1), cu2, cu3] AS Array(Nullable(Float64))) AS cap_upper_by_metric,
        CAST([NULL, NULL, NULL, cl3] AS Array(Nullable(Float64))) AS cap_lower_by_metric,
        CAST([[], [], [], []] AS Array(Array(Float64))) AS quantile_values_by_metric,
        CAST([NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS quantile_level_by_metric,
        CAST([NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS quantile_main_sum_by_metric,
        CAST([NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS quantile_main_sum_sq_by_metric,
        CAST([NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS quantile_main_den_sum_by_metric,
        CAST([NULL, NULL, NULL, NULL] AS Array(Nullable(Float64))) AS quantile_den_sum_sq_by_metric
    FROM capped
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

-- p0 = default
-- p1 = events
-- p2 = prod
-- p3 = $feature_flag_called
-- p4 = new-checkout
-- p5 = 2024-03-01 00:00:00.000
-- p6 = 2024-03-15 00:00:00.000
-- p7 = control
-- p8 = treatment
-- p9 = ['view','cart','purchase']
-- p10 = 2024-03-16 00:00:00.000
-- p11 = view
-- p12 = cart
-- p13 = purchase
-- p14 = 86400
-- p15 = view
-- p16 = cart
-- p17 = plan
-- p18 = pro
-- p19 = purchase
-- p20 = 1209600
-- p21 = 2024-02-16 00:00:00.000
-- p22 = 5
-- p23 = 0.99
-- p24 = 0.9
-- p25 = 0.1
