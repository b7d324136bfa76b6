SELECT count() AS exposures
FROM {p0:Identifier}.{p1:Identifier}
WHERE environment_key = {p2:String}
    AND event = {p3:String}

-- p0 = default
-- p1 = events
-- p2 = prod
-- p3 = $feature_flag_called
