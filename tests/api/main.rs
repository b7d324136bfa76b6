//! Black-box API tests: each test starts the real server on a free port over a fresh database and
//! talks GraphQL over HTTP. `db_test!` runs every test on SQLite and on PostgreSQL.

#[macro_use]
mod helpers;

mod analysis;
mod attachments;
mod audit;
mod auth;
mod batching;
mod cli;
mod clickhouse;
mod edge;
mod experiments;
mod fanout;
mod graphiql;
mod graphql_http;
mod js_client;
mod limits;
mod metrics;
mod migrations;
mod observability;
mod pagination;
mod permissions;
mod replicas;
mod results;
mod schema;
mod shutdown;
mod storage;
mod subscriptions;
mod ws;
mod ws_protocol;
