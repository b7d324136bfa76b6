CREATE DATABASE IF NOT EXISTS {database:Identifier} ON CLUSTER `lift_two_shards`;

CREATE TABLE IF NOT EXISTS {database:Identifier}.{table:Identifier} ON CLUSTER `lift_two_shards` (
    environment_key String,
    event String,
    feature_name String,
    identifier String,
    timestamp DateTime64(3, 'UTC'),
    collected_at DateTime64(3, 'UTC'),
    value String,
    metadata String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (environment_key, event, feature_name, timestamp, identifier, value, metadata);

CREATE TABLE IF NOT EXISTS {database:Identifier}.{distributed:Identifier} ON CLUSTER `lift_two_shards` (
    environment_key String,
    event String,
    feature_name String,
    identifier String,
    timestamp DateTime64(3, 'UTC'),
    collected_at DateTime64(3, 'UTC'),
    value String,
    metadata String
)
ENGINE = Distributed({cluster:String}, {database:String}, {table:String}, cityHash64(identifier));

