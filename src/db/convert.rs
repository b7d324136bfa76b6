//! Rows → read models. What is at rest is parsed like input: an unknown enum text or a malformed
//! definition is an internal error naming the row, never a panic.

use std::borrow::Cow;
use std::str::FromStr;

use super::entity::{
    environment, experiment, experiment_metric, feature, metric, metric_result_snapshot,
    metric_version, organisation, project, user, warehouse_connection,
};
use crate::domain::analysis::{AnalysisSettings, StoredAnalysis};
use crate::domain::feature::Variant;
use crate::domain::metric::MetricDefinition;
use crate::domain::model::{
    Environment, Experiment, ExperimentMetric, Feature, Metric, MetricVersion, Organisation,
    Project, User,
};
use crate::domain::results::{ResultsReport, StoredSnapshot, SNAPSHOT_VERSION};
use crate::domain::warehouse::{WarehouseConnection, WarehouseTarget};
use crate::domain::DomainError;

use super::repo::metrics::ListedMetric;
use super::Sealer;

/// An enum text of a row of `table` (`id` names the row), or `INTERNAL` naming both. Every
/// enum text read from the database goes through here.
pub(crate) fn parse<T: FromStr<Err = String>>(
    table: &str,
    id: &str,
    text: &str,
) -> Result<T, DomainError> {
    text.parse()
        .map_err(|e| DomainError::internal(format!("{table} row {id}: {e}")))
}

impl From<user::Model> for User {
    fn from(m: user::Model) -> Self {
        User {
            id: m.id,
            email: m.email,
            name: m.name,
        }
    }
}

impl From<organisation::Model> for Organisation {
    fn from(m: organisation::Model) -> Self {
        Organisation {
            id: m.id,
            name: m.name,
            experimentation_enabled: m.experimentation_enabled,
        }
    }
}

impl From<project::Model> for Project {
    fn from(m: project::Model) -> Self {
        Project {
            id: m.id,
            organisation_id: m.organisation_id,
            name: m.name,
        }
    }
}

impl From<environment::Model> for Environment {
    fn from(m: environment::Model) -> Self {
        Environment {
            id: m.id,
            project_id: m.project_id,
            name: m.name,
            key: m.key,
            created_at: m.created_at,
        }
    }
}

impl TryFrom<feature::Model> for Feature {
    type Error = DomainError;
    fn try_from(m: feature::Model) -> Result<Self, DomainError> {
        let variants: Vec<Variant> = serde_json::from_value(m.variants)
            .map_err(|e| DomainError::internal(format!("features row {}: variants: {e}", m.id)))?;
        Ok(Feature {
            id: m.id,
            project_id: m.project_id,
            name: m.name,
            variants,
            created_at: m.created_at,
        })
    }
}

impl TryFrom<experiment::Model> for Experiment {
    type Error = DomainError;
    fn try_from(m: experiment::Model) -> Result<Self, DomainError> {
        // NULL: stored before experiments had settings; they follow the server's defaults.
        let analysis = match m.analysis {
            None => StoredAnalysis::ServerDefaults,
            Some(json) => StoredAnalysis::Pinned(
                AnalysisSettings::from_stored(json)
                    .map_err(|e| DomainError::internal(format!("experiments row {}: {e}", m.id)))?,
            ),
        };
        Ok(Experiment {
            analysis,
            status: parse("experiments", &m.id, &m.status)?,
            multiple_exposure_handling: parse("experiments", &m.id, &m.multiple_exposure_handling)?,
            id: m.id,
            environment_id: m.environment_id,
            feature_id: m.feature_id,
            name: m.name,
            hypothesis: m.hypothesis,
            exposure_event: m.exposure_event,
            control_variant: m.control_variant,
            started_at: m.started_at,
            ended_at: m.ended_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted_at: m.deleted_at,
        })
    }
}

impl TryFrom<metric::Model> for Metric {
    type Error = DomainError;
    fn try_from(m: metric::Model) -> Result<Self, DomainError> {
        let definition = MetricDefinition::from_stored(m.definition)
            .map_err(|e| DomainError::internal(format!("metrics row {}: {e}", m.id)))?;
        Ok(Metric {
            metric_type: parse("metrics", &m.id, &m.metric_type)?,
            aggregation: parse("metrics", &m.id, &m.aggregation)?,
            direction: parse("metrics", &m.id, &m.direction)?,
            version: stored_version("metrics", &m.id, m.version)?,
            id: m.id,
            environment_id: m.environment_id,
            name: m.name,
            description: m.description,
            definition,
            created_at: m.created_at,
            deleted_at: m.deleted_at,
        })
    }
}

/// A stored version number: 1 or more.
fn stored_version(table: &str, id: &str, version: i32) -> Result<u32, DomainError> {
    u32::try_from(version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| DomainError::internal(format!("{table} row {id}: version {version}")))
}

impl TryFrom<metric_version::Model> for MetricVersion {
    type Error = DomainError;
    fn try_from(m: metric_version::Model) -> Result<Self, DomainError> {
        let row = format!("{} version {}", m.metric_id, m.version);
        let definition = MetricDefinition::from_stored(m.definition)
            .map_err(|e| DomainError::internal(format!("metric_versions row {row}: {e}")))?;
        Ok(MetricVersion {
            metric_type: parse("metric_versions", &row, &m.metric_type)?,
            aggregation: parse("metric_versions", &row, &m.aggregation)?,
            direction: parse("metric_versions", &row, &m.direction)?,
            version: stored_version("metric_versions", &row, m.version)?,
            metric_id: m.metric_id,
            definition,
            created_at: m.created_at,
        })
    }
}

impl TryFrom<experiment_metric::Model> for ExperimentMetric {
    type Error = DomainError;
    fn try_from(m: experiment_metric::Model) -> Result<Self, DomainError> {
        Ok(ExperimentMetric {
            expected_direction: parse("experiment_metrics", &m.id, &m.expected_direction)?,
            role: parse("experiment_metrics", &m.id, &m.role)?,
            metric_version: stored_version("experiment_metrics", &m.id, m.metric_version)?,
            id: m.id,
            experiment_id: m.experiment_id,
            metric_id: m.metric_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

/// Converts every row, failing on the first that does not parse.
pub fn all<M, T: TryFrom<M, Error = DomainError>>(rows: Vec<M>) -> Result<Vec<T>, DomainError> {
    rows.into_iter().map(T::try_from).collect()
}

/// A connection row, its password opened with `sealer`.
pub fn warehouse_connection(
    m: warehouse_connection::Model,
    sealer: &Sealer,
) -> Result<WarehouseConnection, DomainError> {
    let password = sealer.open(&m.password).map_err(|e| {
        DomainError::Internal(e.context(format!("warehouse_connections row {}", m.id)))
    })?;
    Ok(WarehouseConnection {
        kind: parse("warehouse_connections", &m.id, &m.kind)?,
        id: m.id,
        environment_id: m.environment_id,
        target: WarehouseTarget {
            url: m.url,
            database: m.database_name,
            table: m.table_name,
            cluster: m.cluster_name,
            user: m.username,
            password,
        },
        created_at: m.created_at,
    })
}

impl TryFrom<metric_result_snapshot::Model> for StoredSnapshot {
    type Error = DomainError;
    fn try_from(m: metric_result_snapshot::Model) -> Result<Self, DomainError> {
        let report: ResultsReport = serde_json::from_value(m.payload).map_err(|e| {
            DomainError::internal(format!("metric_result_snapshots row {}: {e}", m.id))
        })?;
        // A payload of another format version could parse by accident and mean something else.
        if !(1..=SNAPSHOT_VERSION).contains(&report.version) {
            return Err(DomainError::internal(format!(
                "metric_result_snapshots row {}: unknown snapshot version {} (this lift reads {SNAPSHOT_VERSION})",
                m.id, report.version
            )));
        }
        Ok(StoredSnapshot {
            id: m.id,
            experiment_id: m.experiment_id,
            computed_at: m.computed_at,
            report,
        })
    }
}

/// A page of metrics as `repo::metrics::page` reads it on SQLite: a JSON array of objects of each
/// row's columns (`definition` as its stored text), with `"attachments"` when they were asked for
/// (an array of `{"attachment": {…}, "experiment": {…}}` objects), in no particular order. Each
/// metric's attachments come in the order they were attached.
pub(crate) fn metric_page(text: &str) -> Result<Vec<ListedMetric>, DomainError> {
    // Borrowed where the text needs no unescaping: enum names and the definition's text are
    // parsed from the page's own text, not copied first.
    #[derive(serde::Deserialize)]
    struct Row<'a> {
        id: String,
        environment_id: String,
        name: String,
        description: String,
        #[serde(borrow)]
        metric_type: Cow<'a, str>,
        #[serde(borrow)]
        aggregation: Cow<'a, str>,
        #[serde(borrow)]
        direction: Cow<'a, str>,
        #[serde(borrow)]
        definition: Cow<'a, str>,
        version: i32,
        created_at: chrono::DateTime<chrono::Utc>,
        deleted_at: Option<chrono::DateTime<chrono::Utc>>,
        #[serde(default, deserialize_with = "array_or_its_text")]
        attachments: Option<Vec<Attached>>,
    }
    let rows: Vec<Row> = serde_json::from_str(text)
        .map_err(|e| DomainError::internal(format!("a page of metrics read as JSON: {e}")))?;
    rows.into_iter()
        .map(|row| {
            let id = row.id;
            let definition = MetricDefinition::from_stored_text(&row.definition)
                .map_err(|e| DomainError::internal(format!("metrics row {id}: {e}")))?;
            let attachments = row.attachments.map(in_attaching_order).transpose()?;
            let metric = Metric {
                metric_type: parse("metrics", &id, &row.metric_type)?,
                aggregation: parse("metrics", &id, &row.aggregation)?,
                direction: parse("metrics", &id, &row.direction)?,
                version: stored_version("metrics", &id, row.version)?,
                environment_id: row.environment_id,
                name: row.name,
                description: row.description,
                definition,
                created_at: row.created_at,
                deleted_at: row.deleted_at,
                id,
            };
            Ok((metric, attachments))
        })
        .collect()
}

/// An attachment with its experiment, as the database builds them in JSON
/// (`repo::attachments::with_experiments_column`).
#[derive(serde::Deserialize)]
struct Attached {
    attachment: experiment_metric::Model,
    experiment: experiment::Model,
}

/// A metric's attachments in a page read as JSON: the array SQLite embeds as JSON because a JSON
/// function made it, or that array's text, should it ever be embedded as the string it also is
/// (re-parsing it in SQL with `json()` on every row to be sure cost more than this).
fn array_or_its_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Attached>>, D::Error> {
    use serde::de::{value::SeqAccessDeserializer, Deserialize, Error, SeqAccess, Visitor};
    struct ArrayOrText;
    impl<'de> Visitor<'de> for ArrayOrText {
        type Value = Option<Vec<Attached>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of attachments, or its JSON text")
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::<Attached>::deserialize(SeqAccessDeserializer::new(seq)).map(Some)
        }
        fn visit_str<E: Error>(self, text: &str) -> Result<Self::Value, E> {
            serde_json::from_str(text).map(Some).map_err(E::custom)
        }
    }
    deserializer.deserialize_any(ArrayOrText)
}

/// The attachments of metric `metric_id` with their experiments, from the text of the JSON array
/// `repo::attachments::with_experiments_column` builds, in the order they were attached.
pub(crate) fn attachments_with_experiments(
    text: &str,
    metric_id: &str,
) -> Result<Vec<(ExperimentMetric, Experiment)>, DomainError> {
    let attached: Vec<Attached> = serde_json::from_str(text)
        .map_err(|e| DomainError::internal(format!("metrics row {metric_id}: attachments: {e}")))?;
    in_attaching_order(attached)
}

fn in_attaching_order(
    mut attached: Vec<Attached>,
) -> Result<Vec<(ExperimentMetric, Experiment)>, DomainError> {
    // Ids are UUIDv7: their order (the column's on either database) is the order of attaching.
    attached.sort_unstable_by(|a, b| a.attachment.id.cmp(&b.attachment.id));
    attached
        .into_iter()
        .map(|pair| {
            Ok((
                ExperimentMetric::try_from(pair.attachment)?,
                Experiment::try_from(pair.experiment)?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const AT: &str = "2026-12-01T10:00:00.123456+00:00";

    /// One metric of a page as the database builds it (stored JSON as text), with `attachments`
    /// unless `None`.
    fn item(id: &str, attachments: Option<Vec<Value>>) -> Value {
        let definition = MetricDefinition::on_event("page_view").to_stored();
        let mut item = json!({"id": id, "environment_id": "env", "name": "Revenue",
            "description": "", "metric_type": "NUMERIC", "aggregation": "COUNT",
            "direction": "UP", "definition": definition.to_string(), "version": 1,
            "created_at": AT, "deleted_at": null});
        if let Some(attachments) = attachments {
            item["attachments"] = json!(attachments);
        }
        item
    }

    /// One `{attachment, experiment}` object as the database builds it, for attachment `id`.
    fn pair(id: &str) -> Value {
        json!({
            "attachment": {"id": id, "experiment_id": format!("e-{id}"), "metric_id": "m",
                "expected_direction": "INCREASE", "role": "PRIMARY", "metric_version": 1,
                "created_at": AT, "updated_at": AT},
            "experiment": {"id": format!("e-{id}"), "environment_id": "env", "feature_id": "f",
                "name": "Checkout", "hypothesis": "", "status": "RUNNING",
                "exposure_event": "$exposure", "control_variant": "control",
                "multiple_exposure_handling": "EXCLUDE", "analysis": null,
                "started_at": AT, "ended_at": null, "created_at": AT,
                "updated_at": "2026-12-01 10:00:01.5+00:00", "deleted_at": null}
        })
    }

    #[test]
    fn a_metric_pages_attachments_come_in_the_order_they_were_attached() {
        let text = json!([
            item("m", Some(vec![pair("0193-b"), pair("0193-a")])),
            item("n", Some(vec![])),
            item("o", None),
        ])
        .to_string();
        let page = metric_page(&text).expect("decoded");
        let ids: Vec<&str> = page.iter().map(|(m, _)| m.id.as_str()).collect();
        assert_eq!(ids, ["m", "n", "o"]);
        assert_eq!(
            page[0].0.definition,
            MetricDefinition::on_event("page_view")
        );
        let attached = page[0].1.as_ref().expect("asked for");
        let ids: Vec<&str> = attached.iter().map(|(a, _)| a.id.as_str()).collect();
        assert_eq!(ids, ["0193-a", "0193-b"]);
        assert!(page[1].1.as_ref().is_some_and(Vec::is_empty));
        assert!(page[2].1.is_none(), "not asked for");
        // The same attachments embedded as their text read the same.
        let mut as_text = item("m", None);
        as_text["attachments"] = json!(json!([pair("0193-b"), pair("0193-a")]).to_string());
        let read = metric_page(&json!([as_text]).to_string()).expect("decoded");
        let ids_of = |listed: &ListedMetric| -> Vec<String> {
            let attached = listed.1.as_ref().expect("asked for");
            attached
                .iter()
                .map(|(a, e)| format!("{}/{}", a.id, e.id))
                .collect()
        };
        assert_eq!(ids_of(&read[0]), ids_of(&page[0]));
        let (_, experiment) = &attached[0];
        assert_eq!(experiment.id, "e-0193-a");
        assert!(matches!(
            experiment.analysis,
            StoredAnalysis::ServerDefaults
        ));
        assert_eq!(
            experiment.started_at.map(|t| t.to_rfc3339()),
            Some(AT.to_owned())
        );
        // PostgreSQL writes `T`, SQLite keeps what sqlx stored; both are RFC 3339.
        assert_eq!(
            experiment.updated_at.to_rfc3339(),
            "2026-12-01T10:00:01.500+00:00"
        );
    }

    #[test]
    fn attachments_read_as_a_column_come_in_the_order_they_were_attached() {
        let text = json!([pair("0193-b"), pair("0193-a")]).to_string();
        let read = attachments_with_experiments(&text, "m").expect("decoded");
        let ids: Vec<&str> = read.iter().map(|(a, _)| a.id.as_str()).collect();
        assert_eq!(ids, ["0193-a", "0193-b"]);
        let err = attachments_with_experiments("[{}]", "m-7").expect_err("refused");
        assert!(err.to_string().contains("m-7"), "{err:?}");
    }

    #[test]
    fn a_malformed_page_is_an_internal_error_naming_what_is_wrong() {
        let mut bad_experiment = pair("a");
        bad_experiment["experiment"]["status"] = json!("SLEEPING");
        let mut bad_metric = item("m-7", None);
        bad_metric["definition"] = json!(json!({"version": 999}).to_string());
        for (text, names) in [
            ("not json".to_owned(), "as JSON"),
            (
                json!([item("m", Some(vec![bad_experiment]))]).to_string(),
                "e-a",
            ),
            (json!([bad_metric]).to_string(), "m-7"),
        ] {
            let err = metric_page(&text).expect_err("refused");
            assert!(
                matches!(&err, DomainError::Internal(e) if e.to_string().contains(names)),
                "{err:?}"
            );
        }
    }
}
