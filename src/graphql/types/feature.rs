//! `Feature`: a flag with variants that experiments split traffic over.

use async_graphql::{Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::domain::model;

pub struct Feature(pub model::Feature);

#[derive(SimpleObject)]
pub struct Variant {
    pub key: String,
    /// Relative share of traffic.
    pub weight: f64,
}

#[Object]
impl Feature {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Variants in their defined order.
    async fn variants(&self) -> Vec<Variant> {
        self.0
            .variants
            .iter()
            .map(|v| Variant {
                key: v.key.clone(),
                weight: v.weight,
            })
            .collect()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
