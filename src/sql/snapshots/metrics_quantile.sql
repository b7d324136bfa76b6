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
        (if(e.event = {p12:String}, ifNull(toFloat64OrNull(e.value), nan), nan)) AS c0,
        (e.event = {p12:String}
            AND (JSONType(e.metadata, {p15:String}) = 'String' AND JSONExtractString(e.metadata, {p15:String}) = {p16:String})) AS c1,
        (if(e.event = {p12:String}, ifNull(toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw(e.metadata, {p17:String}))), nan), nan)) AS c2
    FROM {p0:Identifier}.{p1:Identifier} AS e FINAL
    WHERE e.environment_key = {p2:String}
        AND e.event IN {p9:Array(String)}
        AND e.timestamp >= {p5:DateTime64(3, 'UTC')}
        AND e.timestamp <= {p10:DateTime64(3, 'UTC')}
),
identities AS (
    SELECT
        any(a.variant_index) AS variant_index,
        toFloat64(countIf(e.event = {p11:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')})) AS m0,
        toFloat64(countIf(e.event = {p12:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp < a.first_exposure + toIntervalSecond({p13:Int64})
            AND isFinite(e.c0)
            AND e.c0 != 0)) AS m1,
        sumIf(e.c2, e.event = {p12:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp <= {p6:DateTime64(3, 'UTC')}
            AND e.c1
            AND isFinite(e.c2)) AS m2,
        groupArrayIf(e.c0, e.event = {p12:String}
            AND e.timestamp >= a.first_exposure
            AND e.timestamp < a.first_exposure + toIntervalSecond({p13:Int64})
            AND isFinite(e.c0)
            AND e.c0 != 0) AS q1
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
        groupArrayIf(q1, notEmpty(q1)) AS qs1,
        arraySort(arrayFlatten(qs1)) AS qv1,
        if(empty(qv1), nan, if(toUInt64(({p14:Float64} * (length(qv1) - 1) + 1) AS ht1) AS kt1 >= length(qv1), qv1[length(qv1)], qv1[kt1] + (ht1 - kt1) * (qv1[kt1 + 1] - qv1[kt1]))) AS t1,
        arrayMap((a, t) -> arrayCount((x, s) -> x <= s, a, arrayWithConstant(length(a), t)), qs1, arrayWithConstant(length(qs1), t1)) AS below1,
        [count(m0), count(m1), count(m2)] AS n_by_metric,
        [sum(ifNull(m0, 0)), sum(ifNull(m1, 0)), sum(ifNull(m2, 0))] AS sum_by_metric,
        [sum(ifNull(m0 * m0, 0)), sum(ifNull(m1 * m1, 0)), sum(ifNull(m2 * m2, 0))] AS sum_sq_by_metric,
        CAST([NULL, NULL, NULL] AS Array(Nullable(Float64))) AS den_sum_by_metric,
        CAST([NULL, NULL, NULL] AS Array(Nullable(Float64))) AS den_sum_sq_by_metric,
        CAST([NULL, NULL, NULL] AS Array(Nullable(Float64))) AS num_den_sum_by_metric,
        CAST([[], [], []] AS Array(Array(UInt64))) AS step_reached_by_metric,
        CAST([0, 0, 0] AS Array(UInt64)) AS capped_by_metric,
        CAST([NULL, NULL, NULL] AS Array(Nullable(Float64))) AS cap_upper_by_metric,
        CAST([NULL, NULL, NULL] AS Array(Nullable(Float64))) AS cap_lower_by_metric,
        CAST([[], qv1, arraySort(groupArray(m2))] AS Array(Array(Float64))) AS quantile_values_by_metric,
        CAST([NULL, {p14:Float64}, {p18:Float64}] AS Array(Nullable(Float64))) AS quantile_level_by_metric,
        CAST([NULL, arraySum(below1), NULL] AS Array(Nullable(Float64))) AS quantile_main_sum_by_metric,
        CAST([NULL, arraySum(s -> pow(s, 2), below1), NULL] AS Array(Nullable(Float64))) AS quantile_main_sum_sq_by_metric,
        CAST([NULL, arraySum((s, a) -> s * length(a), below1, qs1), NULL] AS Array(Nullable(Float64))) AS quantile_main_den_sum_by_metric,
        CAST([NULL, sum(m1 * m1), NULL] AS Array(Nullable(Float64))) AS quantile_den_sum_sq_by_metric
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
-- p9 = ['page_view','purchase']
-- p10 = 2024-03-16 00:00:00.000
-- p11 = page_view
-- p12 = purchase
-- p13 = 86400
-- p14 = 0.9
-- p15 = plan
-- p16 = pro
-- p17 = amount
-- p18 = 0.5
