WITH
exposures AS (
    SELECT
        identifier,
        argMin(value, (timestamp, value)) AS variant,
        min(timestamp) AS first_exposure,
        min(value) != max(value) AS several_variants
    FROM {p0:Identifier}.{p1:Identifier}
    WHERE environment_key = {p2:String}
        AND event = {p3:String}
        AND feature_name = {p4:String}
        AND timestamp >= {p5:DateTime64(3, 'UTC')}
        AND timestamp <= {p6:DateTime64(3, 'UTC')}
    GROUP BY identifier
)
SELECT
    variant,
    identities,
    multiple_exposures,
    unknown_variant
FROM (
    SELECT
        [
            countIf(variant = {p7:String} AND NOT several_variants AND has([{p7:String}, {p8:String}], variant)),
            countIf(variant = {p8:String} AND NOT several_variants AND has([{p7:String}, {p8:String}], variant))
        ] AS identities_by_variant,
        countIf(has([{p7:String}, {p8:String}], variant) AND several_variants) AS multiple_exposures,
        countIf(NOT has([{p7:String}, {p8:String}], variant)) AS unknown_variant
    FROM exposures
)
ARRAY JOIN
    [{p7:String}, {p8:String}] AS variant,
    identities_by_variant AS identities

-- p0 = default
-- p1 = events
-- p2 = prod
-- p3 = $feature_flag_called
-- p4 = new-checkout
-- p5 = 2024-03-01 00:00:00.000
-- p6 = 2024-03-15 00:00:00.000
-- p7 = control
-- p8 = treatment
