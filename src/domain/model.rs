//! Read models: what the rest of lift knows about stored objects, parsed from their rows.

use chrono::{DateTime, Utc};

use super::analysis::StoredAnalysis;
use super::experiment::{
    ExpectedDirection, ExperimentStatus, MetricRole, MultipleExposureHandling,
};
use super::feature::Variant;
use super::metric::{Aggregation, Direction, MetricDefinition, MetricType};

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub experimentation_enabled: bool,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub organisation_id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub key: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Feature {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub variants: Vec<Variant>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Experiment {
    pub id: String,
    pub environment_id: String,
    pub feature_id: String,
    pub name: String,
    pub hypothesis: String,
    pub status: ExperimentStatus,
    pub exposure_event: String,
    pub control_variant: String,
    pub multiple_exposure_handling: MultipleExposureHandling,
    /// How results are analysed; resolve with the server's defaults (`StoredAnalysis::resolve`).
    pub analysis: StoredAnalysis,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub id: String,
    pub environment_id: String,
    pub name: String,
    pub description: String,
    pub metric_type: MetricType,
    pub aggregation: Aggregation,
    pub direction: Direction,
    pub definition: MetricDefinition,
    /// The current version: what the four fields above are, and what new attachments pin.
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// What a metric measured in one of its versions (1, 2, …; a new one whenever its type,
/// aggregation, direction or definition changed).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricVersion {
    pub metric_id: String,
    pub version: u32,
    pub metric_type: MetricType,
    pub aggregation: Aggregation,
    pub direction: Direction,
    pub definition: MetricDefinition,
    pub created_at: DateTime<Utc>,
}

impl Metric {
    /// The metric measured as in `version` (its name and description are the current ones).
    pub fn as_of(&self, version: &MetricVersion) -> Metric {
        Metric {
            metric_type: version.metric_type,
            aggregation: version.aggregation,
            direction: version.direction,
            definition: version.definition.clone(),
            version: version.version,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExperimentMetric {
    pub id: String,
    pub experiment_id: String,
    pub metric_id: String,
    pub expected_direction: ExpectedDirection,
    pub role: MetricRole,
    /// The metric's version this experiment is analysed with: the current one when attached,
    /// moved only by `upgradeExperimentMetric`.
    pub metric_version: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored audit entry, with its actor's name and email when the actor still exists.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Cursor order, equal to commit order within an environment.
    pub sequence: i64,
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub organisation_id: String,
    pub project_id: Option<String>,
    pub environment_id: Option<String>,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub actor_name: Option<String>,
    pub action: super::audit::AuditAction,
    pub related_object_type: super::audit::RelatedObjectType,
    pub related_object_id: String,
    pub log: String,
    pub changes: Option<serde_json::Value>,
}
