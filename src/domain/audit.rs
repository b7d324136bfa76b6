//! What an audit entry says about a change: its action, the object it concerns, a readable line and
//! the fields before and after. Pure: `service::audit` stores what these functions build.

use serde_json::{json, Map, Value};

use super::analysis::StoredAnalysis;
use super::model::{Experiment, ExperimentMetric, Metric};
use super::results::SnapshotRef;
use super::string_enum::string_enum;
use super::warehouse::WarehouseConnection;

string_enum! {
    pub enum AuditAction {
        Created = "CREATED", Updated = "UPDATED", Deleted = "DELETED", Started = "STARTED",
        Paused = "PAUSED", Completed = "COMPLETED", Attached = "ATTACHED", Detached = "DETACHED",
    }
}

string_enum! {
    pub enum RelatedObjectType {
        Metric = "METRIC", Experiment = "EXPERIMENT", ExperimentMetric = "EXPERIMENT_METRIC",
        WarehouseConnection = "WAREHOUSE_CONNECTION", ResultSnapshot = "RESULT_SNAPSHOT",
    }
}

/// The part of an audit row that describes the change (the rest, who/where/when, is added when
/// it is stored).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub action: AuditAction,
    pub object_type: RelatedObjectType,
    pub object_id: String,
    pub log: String,
    /// `{"before": {..}, "after": {..}}` with only the fields that changed, or `None`.
    pub changes: Option<Value>,
}

/// The fields of an object worth recording.
pub trait Audited {
    const TYPE: RelatedObjectType;
    fn id(&self) -> &str;
    fn snapshot(&self) -> Value;
}

impl Audited for Metric {
    const TYPE: RelatedObjectType = RelatedObjectType::Metric;
    fn id(&self) -> &str {
        &self.id
    }
    fn snapshot(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "metricType": self.metric_type.as_str(),
            "aggregation": self.aggregation.as_str(),
            "direction": self.direction.as_str(),
            "definition": self.definition.to_stored(),
            "version": self.version,
        })
    }
}

impl Audited for Experiment {
    const TYPE: RelatedObjectType = RelatedObjectType::Experiment;
    fn id(&self) -> &str {
        &self.id
    }
    fn snapshot(&self) -> Value {
        json!({
            "name": self.name,
            "hypothesis": self.hypothesis,
            "status": self.status.as_str(),
            "featureId": self.feature_id,
            "exposureEvent": self.exposure_event,
            "controlVariant": self.control_variant,
            "multipleExposureHandling": self.multiple_exposure_handling.as_str(),
            // Null for an experiment that still follows the server's defaults (changes pin them
            // first, so an update's diff compares the values in effect).
            "analysis": match &self.analysis {
                StoredAnalysis::Pinned(settings) => settings.to_audit(),
                StoredAnalysis::ServerDefaults => Value::Null,
            },
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
        })
    }
}

impl Audited for WarehouseConnection {
    const TYPE: RelatedObjectType = RelatedObjectType::WarehouseConnection;
    fn id(&self) -> &str {
        &self.id
    }
    /// Audit entries are readable by every viewer of the environment, while the connection itself
    /// is for admins (it names internal hosts): record neither the URL nor the user, and never the
    /// password, only whether one is set.
    fn snapshot(&self) -> Value {
        json!({
            "kind": self.kind.as_str(),
            "database": self.target.database,
            "table": self.target.table,
            "passwordSet": !secrecy::ExposeSecret::expose_secret(&self.target.password).is_empty(),
        })
    }
}

impl Audited for SnapshotRef {
    const TYPE: RelatedObjectType = RelatedObjectType::ResultSnapshot;
    fn id(&self) -> &str {
        &self.id
    }
    fn snapshot(&self) -> Value {
        json!({
            "experimentId": self.experiment_id,
            "computedAt": self.computed_at,
        })
    }
}

impl Audited for ExperimentMetric {
    const TYPE: RelatedObjectType = RelatedObjectType::ExperimentMetric;
    fn id(&self) -> &str {
        &self.id
    }
    fn snapshot(&self) -> Value {
        json!({
            "experimentId": self.experiment_id,
            "metricId": self.metric_id,
            "expectedDirection": self.expected_direction.as_str(),
            "role": self.role.as_str(),
            "metricVersion": self.metric_version,
        })
    }
}

/// An object came into being.
pub fn created<T: Audited>(object: &T, log: String) -> AuditRecord {
    record(
        AuditAction::Created,
        object,
        log,
        None,
        Some(object.snapshot()),
    )
}

/// An object went away (soft-deleted, or an attachment removed).
pub fn removed<T: Audited>(action: AuditAction, object: &T, log: String) -> AuditRecord {
    record(action, object, log, Some(object.snapshot()), None)
}

/// An object changed from `before` to `after` (an update or a lifecycle transition).
pub fn changed<T: Audited>(action: AuditAction, before: &T, after: &T, log: String) -> AuditRecord {
    record(
        action,
        after,
        log,
        Some(before.snapshot()),
        Some(after.snapshot()),
    )
}

/// Like `created`, for an attachment (action ATTACHED).
pub fn attached(attachment: &ExperimentMetric, log: String) -> AuditRecord {
    record(
        AuditAction::Attached,
        attachment,
        log,
        None,
        Some(attachment.snapshot()),
    )
}

fn record<T: Audited>(
    action: AuditAction,
    object: &T,
    log: String,
    before: Option<Value>,
    after: Option<Value>,
) -> AuditRecord {
    AuditRecord {
        action,
        object_type: T::TYPE,
        object_id: object.id().to_owned(),
        log,
        changes: diff(before, after),
    }
}

/// Keeps only the fields that differ when both sides are present; within a field that is an
/// object on both sides (an experiment's `analysis`, a metric's `definition`) only the members
/// that differ, so a change of α records α alone.
fn diff(before: Option<Value>, after: Option<Value>) -> Option<Value> {
    match (before, after) {
        (None, None) => None,
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let (before, after) = diff_objects(&b, &a);
            Some(json!({"before": before, "after": after}))
        }
        (before, after) => {
            let mut out = Map::new();
            if let Some(b) = before {
                out.insert("before".into(), b);
            }
            if let Some(a) = after {
                out.insert("after".into(), a);
            }
            Some(Value::Object(out))
        }
    }
}

/// The members of `b` and `a` that differ, recursing into members that are objects on both sides.
fn diff_objects(
    b: &Map<String, Value>,
    a: &Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>) {
    let keys = b.keys().chain(a.keys().filter(|k| !b.contains_key(*k)));
    let (mut before, mut after) = (Map::new(), Map::new());
    for key in keys {
        match (b.get(key), a.get(key)) {
            (old, new) if old == new => {}
            (Some(Value::Object(old)), Some(Value::Object(new))) => {
                let (old, new) = diff_objects(old, new);
                before.insert(key.clone(), Value::Object(old));
                after.insert(key.clone(), Value::Object(new));
            }
            (old, new) => {
                before.insert(key.clone(), old.cloned().unwrap_or(Value::Null));
                after.insert(key.clone(), new.cloned().unwrap_or(Value::Null));
            }
        }
    }
    (before, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_record_only_the_fields_that_changed() {
        let before = json!({"name": "a", "status": "CREATED", "same": 1});
        let after = json!({"name": "b", "status": "CREATED", "same": 1});
        assert_eq!(
            diff(Some(before), Some(after)),
            Some(json!({"before": {"name": "a"}, "after": {"name": "b"}}))
        );
    }

    #[test]
    fn nested_objects_record_only_their_members_that_changed() {
        let before = json!({"analysis": {"alpha": 0.05, "prior": {"mean": 0, "variance": 0.09}, "cuped": true}});
        let after = json!({"analysis": {"alpha": 0.01, "prior": {"mean": 0, "variance": 0.2}, "cuped": true}});
        assert_eq!(
            diff(Some(before), Some(after)),
            Some(json!({
                "before": {"analysis": {"alpha": 0.05, "prior": {"variance": 0.09}}},
                "after": {"analysis": {"alpha": 0.01, "prior": {"variance": 0.2}}},
            }))
        );
        // An object replacing null (or the reverse) is recorded whole.
        assert_eq!(
            diff(
                Some(json!({"analysis": null})),
                Some(json!({"analysis": {"alpha": 0.05}}))
            ),
            Some(json!({"before": {"analysis": null}, "after": {"analysis": {"alpha": 0.05}}}))
        );
    }

    #[test]
    fn creations_and_deletions_record_one_side() {
        assert_eq!(
            diff(None, Some(json!({"x": 1}))),
            Some(json!({"after": {"x": 1}}))
        );
        assert_eq!(
            diff(Some(json!({"x": 1})), None),
            Some(json!({"before": {"x": 1}}))
        );
        assert_eq!(diff(None, None), None);
    }
}
