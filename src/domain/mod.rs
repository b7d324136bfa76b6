//! Rules and value types of lift, with no IO: nothing here touches the database, HTTP or GraphQL.
//!
//! Inputs arrive as `*Draft` structs (plain data from the API boundary) and leave as parsed values
//! (`NewMetric`, `NewExperiment`) that the rest of the code trusts. Every rejection is a
//! [`DomainError`], whose variants map one-to-one onto the API's `extensions.code`.

pub mod analysis;
pub mod audit;
pub mod error;
pub mod experiment;
pub mod feature;
pub mod funnel_capping;
pub mod health;
pub mod judgement;
pub mod metric;
pub mod metric_edit;
pub mod model;
pub mod permission;
pub mod preview;
pub mod recommendation;
pub mod results;
mod string_enum;
pub mod text;
pub mod warehouse;

pub use error::DomainError;
