//! lift: a GraphQL API server for warehouse-native A/B experiment metrics.
//!
//! # Layout
//! - [`configuration`]  typed settings from flags and `LIFT_*` env vars (the only reader of env);
//! - [`telemetry`]      tracing subscriber set-up and the app's Prometheus `Metrics`;
//! - [`startup`]        `Application::build` → `run_until_stopped(shutdown)`;
//! - [`tasks`]          the server's task tracker, waited for on shutdown;
//! - [`http`]           the accept loop, edge layers, axum router: GraphiQL, `POST /graphql`, `/health`, `/ready`, `/metrics`;
//! - [`auth`]           JWT verification and issue, the request's `Viewer`;
//! - [`domain`]         pure rules and value types (metrics, experiments, permissions), no IO;
//! - [`db`]             SeaORM entities, soft-delete scopes, repositories, pagination;
//! - [`service`]        one function per use-case: authorize → rules → repo, in a transaction;
//! - [`graphql`]        the API boundary: schema, input/output types, error codes;
//! - [`sql`]            PURE ClickHouse compiler: results scope → parameterised SQL;
//! - [`stats`]          PURE statistics over sufficient statistics (Welch t, delta method, SRM);
//! - [`warehouse`]      the only ClickHouse client: runs compiled SQL, loads events;
//! - [`secret_file`]  generated secrets kept beside the SQLite database (0600);
//! - [`admin`]          `lift admin …`, `lift demo` and `lift clickhouse init`.

pub mod admin;
pub mod admission;
pub mod auth;
pub mod configuration;
pub mod db;
pub mod demo_events;
pub mod domain;
pub mod events;
pub mod graphql;
pub mod http;
pub mod secret_file;
pub mod service;
pub mod sql;
pub mod startup;
pub mod stats;
pub mod subscription_runtime;
pub mod tasks;
pub mod telemetry;
pub mod warehouse;
