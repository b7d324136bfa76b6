SELECT
    sum(shard.exposures) AS exposures
FROM cluster({p4:String}, view(
    SELECT count() AS exposures
    FROM {p0:Identifier}.{p1:Identifier}
    WHERE environment_key = {p2:String}
        AND event = {p3:String}
)) AS shard
SETTINGS skip_unavailable_shards = 0

-- p0 = default
-- p1 = events
-- p2 = prod
-- p3 = $feature_flag_called
-- p4 = lift_two_shards
