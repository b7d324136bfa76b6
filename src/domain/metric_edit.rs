//! Editing a metric: `name` and `description` change in place; a change of what it measures (type,
//! aggregation, direction, definition) makes a new version, so experiments already analysing the
//! metric keep the version they pinned until they are upgraded.

use super::error::DomainResult;
use super::metric::{Aggregation, Direction, MetricDefinition, MetricDraft, MetricType, NewMetric};
use super::model::Metric;

/// What `updateMetric` asks for; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct MetricPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub metric_type: Option<MetricType>,
    pub aggregation: Option<Aggregation>,
    pub direction: Option<Direction>,
    pub definition: Option<MetricDefinition>,
}

/// A checked edit: the merged metric, and whether what it measures changed.
#[derive(Debug, Clone)]
pub struct MetricEdit {
    pub metric: NewMetric,
    /// True when type, aggregation, direction or definition differ from the current version's:
    /// the edit stores version n + 1.
    pub new_version: bool,
}

impl MetricPatch {
    /// Merges the patch into `current` and checks the result as a new metric would be checked.
    pub fn apply(self, current: &Metric) -> DomainResult<MetricEdit> {
        let metric = NewMetric::parse(MetricDraft {
            name: self.name.unwrap_or_else(|| current.name.clone()),
            description: self
                .description
                .unwrap_or_else(|| current.description.clone()),
            metric_type: self.metric_type.unwrap_or(current.metric_type),
            aggregation: self.aggregation.unwrap_or(current.aggregation),
            direction: self.direction.unwrap_or(current.direction),
            definition: self
                .definition
                .unwrap_or_else(|| current.definition.clone()),
        })?;
        // Compared after parsing, so a value that parses to the current one (an event name with
        // surrounding spaces) is no change.
        let new_version = metric.metric_type != current.metric_type
            || metric.aggregation != current.aggregation
            || metric.direction != current.direction
            || metric.definition != current.definition;
        Ok(MetricEdit {
            metric,
            new_version,
        })
    }
}

impl MetricEdit {
    /// The metric after the edit, from `current` (its id, environment and creation stay).
    pub fn applied_to(&self, current: &Metric) -> Metric {
        Metric {
            name: self.metric.name.clone(),
            description: self.metric.description.clone(),
            metric_type: self.metric.metric_type,
            aggregation: self.metric.aggregation,
            direction: self.metric.direction,
            definition: self.metric.definition.clone(),
            version: current.version + u32::from(self.new_version),
            ..current.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metric::ValueSource;
    use crate::domain::DomainError;

    fn current() -> Metric {
        let metric = NewMetric::parse(MetricDraft {
            name: "Revenue".into(),
            description: String::new(),
            metric_type: MetricType::Numeric,
            aggregation: Aggregation::Sum,
            direction: Direction::Up,
            definition: serde_json::from_value(serde_json::json!({
                "event": "purchase", "value": {"source": "EVENT_VALUE"}
            }))
            .expect("a definition"),
        })
        .expect("valid");
        Metric {
            id: "m".into(),
            environment_id: "e".into(),
            name: metric.name.clone(),
            description: metric.description.clone(),
            metric_type: metric.metric_type,
            aggregation: metric.aggregation,
            direction: metric.direction,
            definition: metric.definition.clone(),
            version: 3,
            created_at: chrono::Utc::now(),
            deleted_at: None,
        }
    }

    #[test]
    fn names_and_descriptions_change_in_place() {
        let edit = MetricPatch {
            name: Some(" Gross revenue ".into()),
            description: Some("all of it".into()),
            ..MetricPatch::default()
        }
        .apply(&current())
        .expect("valid");
        assert!(!edit.new_version);
        let after = edit.applied_to(&current());
        assert_eq!((after.name.as_str(), after.version), ("Gross revenue", 3));
    }

    #[test]
    fn what_the_metric_measures_makes_a_new_version_unless_it_is_the_same() {
        let mut definition = current().definition;
        definition.event = "order".into();
        let edit = MetricPatch {
            definition: Some(definition),
            ..MetricPatch::default()
        }
        .apply(&current())
        .expect("valid");
        assert!(edit.new_version);
        assert_eq!(edit.applied_to(&current()).version, 4);

        let mut same = current().definition;
        same.event = " purchase ".into();
        let edit = MetricPatch {
            metric_type: Some(MetricType::Numeric),
            direction: Some(Direction::Up),
            definition: Some(same),
            ..MetricPatch::default()
        }
        .apply(&current())
        .expect("valid");
        assert!(!edit.new_version);

        let edit = MetricPatch {
            direction: Some(Direction::Down),
            ..MetricPatch::default()
        }
        .apply(&current())
        .expect("valid");
        assert!(edit.new_version);
    }

    #[test]
    fn the_merged_metric_is_checked_like_a_new_one() {
        // MEAN keeps the current value source; COUNT refuses it.
        let mean = MetricPatch {
            aggregation: Some(Aggregation::Mean),
            ..MetricPatch::default()
        };
        assert!(mean.apply(&current()).is_ok());
        let count = MetricPatch {
            aggregation: Some(Aggregation::Count),
            ..MetricPatch::default()
        };
        assert!(matches!(
            count.apply(&current()),
            Err(DomainError::Validation { field, .. }) if field == "definition.value"
        ));
        let mut definition = current().definition;
        definition.value = Some(ValueSource::Property {
            property: String::new(),
        });
        assert!(MetricPatch {
            definition: Some(definition),
            ..MetricPatch::default()
        }
        .apply(&current())
        .is_err());
    }
}
