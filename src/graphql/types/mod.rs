//! GraphQL object types. Outputs wrap read models (rows never reach this layer); inputs convert
//! into domain drafts with `From`, leaving every rule to `domain`.

pub mod analysis;
pub mod attachment;
pub mod audit;
pub mod definition;
pub mod enums;
pub mod environment;
pub mod experiment;
pub mod feature;
pub mod judged;
pub mod metric;
pub mod metric_version;
pub mod preview;
pub mod quantile;
pub mod results;
pub mod viewer;
pub mod warehouse;
