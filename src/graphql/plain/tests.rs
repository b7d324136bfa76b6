//! The walk against async-graphql's own resolvers: the same values, queried both ways in one
//! schema, must give the same response, byte for byte (so in the same key order).

use std::collections::HashMap;

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, EmptyMutation, EmptySubscription, Object, OutputType, Positioned, Schema,
    ServerError, ServerResult, Value,
};
use serde_json::Value as Json;

use super::{try_walk, Fast, FastConn, PlainFields};
use crate::db::page::Page;
use crate::domain::analysis::StoredAnalysis;
use crate::domain::{experiment as experiments, metric as metrics, model};
use crate::graphql::pagination::{connection, Conn};
use crate::graphql::types::attachment::ExperimentMetric;
use crate::graphql::types::definition::{
    Capping, FilterValue, FunnelStep, MetricDefinition, MetricWindow, PropertyFilter, Quantile,
    RatioPart, ValueSource,
};
use crate::graphql::types::enums::{
    Aggregation, CappingKind, FilterOp, QuantileOver, ValueSourceKind,
};
use crate::graphql::types::experiment::Experiment;
use crate::graphql::types::metric::Metric;

/// A definition with every field set and every kind of filter value: no real metric is all of
/// these at once, but each field must come out as async-graphql writes it.
fn definition() -> MetricDefinition {
    let filter = |property: &str, op, value| PropertyFilter {
        property: property.to_owned(),
        op,
        value,
    };
    let filters = || {
        vec![
            filter(
                "plan",
                FilterOp::Eq,
                Some(FilterValue {
                    string: Some("pro \"annual\"".to_owned()),
                    ..FilterValue::default()
                }),
            ),
            filter(
                "amount",
                FilterOp::Gte,
                Some(FilterValue {
                    number: Some(12.5),
                    ..FilterValue::default()
                }),
            ),
            filter(
                "trial",
                FilterOp::Neq,
                Some(FilterValue {
                    boolean: Some(false),
                    ..FilterValue::default()
                }),
            ),
            filter(
                "country",
                FilterOp::In,
                Some(FilterValue {
                    string_list: Some(vec!["DE".to_owned(), "FR".to_owned()]),
                    ..FilterValue::default()
                }),
            ),
            filter(
                "seats",
                FilterOp::NotIn,
                Some(FilterValue {
                    number_list: Some(vec![1.0, 2.0, 3.5]),
                    ..FilterValue::default()
                }),
            ),
            filter("coupon", FilterOp::Exists, None),
        ]
    };
    let value = || {
        Some(ValueSource {
            source: ValueSourceKind::Property,
            property: Some("amount".to_owned()),
        })
    };
    MetricDefinition {
        event: Some("purchase".to_owned()),
        filters: filters(),
        value: value(),
        window: Some(MetricWindow {
            start_seconds: 60,
            end_seconds: Some(86_400),
        }),
        steps: vec![
            FunnelStep {
                event: "visit".to_owned(),
                filters: filters(),
            },
            FunnelStep {
                event: "buy".to_owned(),
                filters: Vec::new(),
            },
        ],
        numerator: Some(RatioPart {
            event: "revenue".to_owned(),
            filters: filters(),
            aggregation: Aggregation::Sum,
            value: value(),
        }),
        denominator: Some(RatioPart {
            event: "order".to_owned(),
            filters: Vec::new(),
            aggregation: Aggregation::Count,
            value: None,
        }),
        quantile: Some(Quantile {
            level: 0.9,
            over: QuantileOver::Identities,
            ignore_zeros: true,
        }),
        capping: Some(Capping {
            kind: CappingKind::Percentile,
            upper: 0.99,
            lower: None,
            ignore_zeros: false,
        }),
    }
}

fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(seconds, 123_000_000).expect("a time")
}

fn metric() -> Metric {
    Metric::new(model::Metric {
        id: "m-1".to_owned(),
        environment_id: "env-1".to_owned(),
        name: "Revenue".to_owned(),
        description: "What buyers pay".to_owned(),
        metric_type: metrics::MetricType::Numeric,
        aggregation: metrics::Aggregation::Sum,
        direction: metrics::Direction::Up,
        definition: metrics::MetricDefinition {
            event: "purchase".to_owned(),
            window: Some(metrics::MetricWindow {
                start_seconds: 0,
                end_seconds: None,
            }),
            ..metrics::MetricDefinition::default()
        },
        version: 3,
        created_at: at(1_700_000_000),
        deleted_at: Some(at(1_700_000_500)),
    })
}

fn experiment() -> Experiment {
    Experiment(model::Experiment {
        id: "x-1".to_owned(),
        environment_id: "env-1".to_owned(),
        feature_id: "f-1".to_owned(),
        name: "Checkout".to_owned(),
        hypothesis: "Shorter is better".to_owned(),
        status: experiments::ExperimentStatus::Running,
        exposure_event: "exposure".to_owned(),
        control_variant: "control".to_owned(),
        multiple_exposure_handling: experiments::MultipleExposureHandling::Exclude,
        analysis: StoredAnalysis::ServerDefaults,
        started_at: Some(at(1_700_000_100)),
        ended_at: None,
        created_at: at(1_700_000_000),
        updated_at: at(1_700_000_200),
        deleted_at: None,
    })
}

fn attachment() -> ExperimentMetric {
    ExperimentMetric::new(model::ExperimentMetric {
        id: "a-1".to_owned(),
        experiment_id: "x-1".to_owned(),
        metric_id: "m-1".to_owned(),
        expected_direction: experiments::ExpectedDirection::NotDecrease,
        role: experiments::MetricRole::Guardrail,
        metric_version: 2,
        created_at: at(1_700_000_000),
        updated_at: at(1_700_000_300),
    })
}

/// A metric as a page that read its attachments gives it: two attachments, to two experiments.
fn attached_metric() -> Metric {
    let Metric(metric, _) = metric();
    let ExperimentMetric(first, _) = attachment();
    let Experiment(checkout) = experiment();
    let second = model::ExperimentMetric {
        id: "a-2".to_owned(),
        experiment_id: "x-2".to_owned(),
        role: experiments::MetricRole::Primary,
        ..first.clone()
    };
    let prices = model::Experiment {
        id: "x-2".to_owned(),
        name: "Prices".to_owned(),
        status: experiments::ExperimentStatus::Created,
        started_at: None,
        ..checkout.clone()
    };
    let attached =
        |attachment, experiment| ExperimentMetric(attachment, Some(Experiment(experiment)));
    Metric(
        metric,
        Some(vec![attached(first, checkout), attached(second, prices)]),
    )
}

struct Query;

#[Object]
impl Query {
    async fn derived(&self) -> MetricDefinition {
        definition()
    }
    async fn walked(&self) -> Fast<MetricDefinition> {
        Fast(definition())
    }
    async fn derived_metric(&self) -> Metric {
        metric()
    }
    async fn walked_metric(&self) -> Fast<Metric> {
        Fast(metric())
    }
    async fn derived_experiment(&self) -> Experiment {
        experiment()
    }
    async fn walked_experiment(&self) -> Fast<Experiment> {
        Fast(experiment())
    }
    async fn derived_attachment(&self) -> ExperimentMetric {
        attachment()
    }
    async fn walked_attachment(&self) -> Fast<ExperimentMetric> {
        Fast(attachment())
    }
    async fn derived_attached_metric(&self) -> Metric {
        attached_metric()
    }
    async fn walked_attached_metric(&self) -> OnlyWalked<Metric> {
        OnlyWalked(attached_metric())
    }
}

/// `T` walked whole, or an error: no field of it left to async-graphql.
struct OnlyWalked<T>(T);

impl<T: PlainFields> OutputType for OnlyWalked<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        try_walk(ctx, &self.0)
            .ok_or_else(|| ServerError::new("a field was not walked", Some(field.pos)))
    }
}

type TestSchema = Schema<Query, EmptyMutation, EmptySubscription>;

async fn run(schema: &TestSchema, query: &str) -> async_graphql::Value {
    let response = schema.execute(query).await;
    assert!(response.errors.is_empty(), "{query}: {:?}", response.errors);
    response.data
}

/// The fields of each object type: (name, the named type inside lists and non-null, its kind);
/// fields with arguments are left out (none of them is plain).
async fn object_fields(schema: &TestSchema) -> HashMap<String, Vec<(String, String, String)>> {
    let query = "{ __schema { types { name kind fields { name args { name } type { kind name \
                 ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";
    let data = run(schema, query).await.into_json().expect("json");
    let mut types = HashMap::new();
    for ty in data["__schema"]["types"].as_array().expect("types") {
        if ty["kind"] != "OBJECT" {
            continue;
        }
        let mut fields = Vec::new();
        for field in ty["fields"].as_array().expect("fields") {
            if field["args"]
                .as_array()
                .is_some_and(|args| !args.is_empty())
            {
                continue;
            }
            let mut named = &field["type"];
            while named["name"].is_null() {
                named = &named["ofType"];
            }
            let text = |v: &Json| v.as_str().expect("a name").to_owned();
            fields.push((
                text(&field["name"]),
                text(&named["name"]),
                text(&named["kind"]),
            ));
        }
        types.insert(ty["name"].as_str().expect("name").to_owned(), fields);
    }
    types
}

/// Every field of `type_name`, and inside each object-valued field every field of its type: what
/// async-graphql registered, so a field added to a walked type later is selected here too.
fn every_field(types: &HashMap<String, Vec<(String, String, String)>>, type_name: &str) -> String {
    let fields = &types[type_name];
    let selected: Vec<String> = fields
        .iter()
        .map(|(name, inner, kind)| match kind.as_str() {
            "OBJECT" => format!("{name} {{ {} }}", every_field(types, inner)),
            _ => name.clone(),
        })
        .collect();
    selected.join(" ")
}

fn text(value: &async_graphql::Value, key: &str) -> String {
    let async_graphql::Value::Object(map) = value else {
        panic!("an object: {value:?}");
    };
    serde_json::to_string(&map[key]).expect("serializes")
}

#[tokio::test]
async fn every_plain_field_resolves_as_async_graphql_does() {
    let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
    let types = object_fields(&schema).await;
    let selection = every_field(&types, "MetricDefinition");
    for field in [
        "numberList",
        "ignoreZeros",
        "endSeconds",
        "aggregation",
        "steps",
    ] {
        assert!(selection.contains(field), "{field} in {selection}");
    }
    let data = run(
        &schema,
        &format!("{{ derived {{ {selection} }} walked {{ {selection} }} }}"),
    )
    .await;
    assert_eq!(text(&data, "walked"), text(&data, "derived"));
}

#[tokio::test]
async fn fragments_aliases_typenames_and_repeated_fields_resolve_as_async_graphql_does() {
    let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
    let selection =
        "__typename kind: event ...Parts ... on MetricDefinition { window { startSeconds } } \
                     ... { quantile { level } } window { endSeconds __typename } \
                     filters { op } filters { property value { string } } \
                     capping @skip(if: true) { kind } steps @include(if: true) { event } \
                     numerator { event @skip(if: true) }";
    let query = format!(
        "{{ derived {{ {selection} }} walked {{ {selection} }} }} \
         fragment Parts on MetricDefinition {{ capping {{ upper }} value {{ source }} }}"
    );
    let data = run(&schema, &query).await;
    let walked = text(&data, "walked");
    assert_eq!(walked, text(&data, "derived"));
    // What the comparison covers: merged repeats, the alias, the fragments, the skips (an
    // object left with no field is null, as async-graphql has it).
    assert!(walked.ends_with(r#""numerator":null}"#), "{walked}");
    assert!(
        walked.starts_with(
            r#"{"__typename":"MetricDefinition","kind":"purchase","capping":{"upper":0.99}"#
        ),
        "{walked}"
    );
    assert!(
        walked.contains(
            r#""window":{"startSeconds":60,"endSeconds":86400,"__typename":"MetricWindow"}"#
        ),
        "{walked}"
    );
    assert!(
        walked.contains(r#"{"op":"EQ","property":"plan","value":{"string":"pro \"annual\""}}"#),
        "{walked}"
    );
}

/// The objects that mix plain fields with relations: every field that needs no loader and no
/// argument (their scalars, enums and the definition), which `Fast` must read as the derived
/// resolvers do. Relations go through async-graphql in both and are covered by the API tests.
#[tokio::test]
async fn the_plain_fields_of_metrics_experiments_and_attachments_resolve_as_async_graphql_does() {
    let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
    let types = object_fields(&schema).await;
    for (type_name, field) in [
        ("Metric", "Metric"),
        ("Experiment", "Experiment"),
        ("ExperimentMetric", "Attachment"),
    ] {
        let selection: Vec<String> = types[type_name]
            .iter()
            .filter(|(name, _, kind)| {
                kind != "OBJECT" || name == "definition" && type_name == "Metric"
            })
            .map(|(name, inner, kind)| match kind.as_str() {
                "OBJECT" => format!("{name} {{ {} }}", every_field(&types, inner)),
                _ => name.clone(),
            })
            .collect();
        assert!(selection.len() >= 6, "{type_name}: {selection:?}");
        let selection = selection.join(" ");
        let data = run(
            &schema,
            &format!("{{ derived{field} {{ {selection} }} walked{field} {{ {selection} }} }}"),
        )
        .await;
        let walked = text(&data, &format!("walked{field}"));
        assert_eq!(
            walked,
            text(&data, &format!("derived{field}")),
            "{type_name}"
        );
    }
}

/// A metric's attachments read with its page, and their experiments, walked: every plain field
/// of both, with fragments, aliases and repeats, as async-graphql resolves the same prefetched
/// values (the resolvers return what the page read, without a loader).
#[tokio::test]
async fn attachments_read_with_the_page_are_walked_as_async_graphql_resolves_them() {
    let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
    let types = object_fields(&schema).await;
    let plain = |type_name: &str| {
        types[type_name]
            .iter()
            .filter(|(_, _, kind)| kind != "OBJECT")
            .map(|(name, _, _)| name.clone())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (attachment, experiment) = (plain("ExperimentMetric"), plain("Experiment"));
    assert!(
        experiment.contains("multipleExposureHandling"),
        "{experiment}"
    );
    let selection = format!(
        "name attachments {{ {attachment} experiment {{ {experiment} }} }} \
         again: attachments {{ __typename ...Attached experiment {{ id }} experiment {{ name }} }}"
    );
    let query = format!(
        "{{ derivedAttachedMetric {{ {selection} }} walkedAttachedMetric {{ {selection} }} }} \
         fragment Attached on ExperimentMetric {{ role ... on ExperimentMetric {{ experiment {{ status }} }} }}"
    );
    let data = run(&schema, &query).await;
    let walked = text(&data, "walkedAttachedMetric");
    assert_eq!(walked, text(&data, "derivedAttachedMetric"));
    assert!(
        walked.contains(r#""again":[{"__typename":"ExperimentMetric","role":"GUARDRAIL","experiment":{"status":"RUNNING","id":"x-1","name":"Checkout"}},"#),
        "{walked}"
    );
    assert!(walked.contains(r#""name":"Prices""#), "{walked}");
    // A relation inside is not plain: the whole list goes back to async-graphql, rather than
    // being walked without it.
    for inside in ["metric { id }", "experiment { feature { name } }"] {
        let query = format!("{{ walkedAttachedMetric {{ attachments {{ id {inside} }} }} }}");
        let response = schema.execute(query.as_str()).await;
        let errors = format!("{:?}", response.errors);
        assert!(
            errors.contains("a field was not walked"),
            "{inside}: {errors}"
        );
    }
}

fn page(size: usize) -> Conn<Fast<Metric>> {
    let items = (0..size)
        .map(|i| {
            let Metric(mut metric, _) = metric();
            metric.id = format!("m-{i}");
            metric.name = format!("Metric {i}");
            metric
        })
        .collect();
    let page = Page {
        items,
        has_next_page: size > 1,
        total_count: Some(size as u64 + 4),
    };
    connection(page, |m| &m.id, |m| Fast(Metric::new(m)))
}

struct DerivedPages;

#[Object]
impl DerivedPages {
    async fn page(&self, size: usize) -> Conn<Fast<Metric>> {
        page(size)
    }
}

struct WalkedPages;

#[Object]
impl WalkedPages {
    async fn page(&self, size: usize) -> FastConn<Fast<Metric>> {
        FastConn(page(size))
    }
}

/// A page of a list walked by `FastConn` against async-graphql's `Connection`, in two schemas
/// (the two register one GraphQL type each, `MetricConnection`): every field of the connection,
/// its edges and page info, fragments on each, repeated and aliased fields, full and empty pages.
#[tokio::test]
async fn a_walked_page_answers_as_async_graphql_connections_do() {
    let derived = Schema::new(DerivedPages, EmptyMutation, EmptySubscription);
    let walked = Schema::new(WalkedPages, EmptyMutation, EmptySubscription);
    let query = "query($size: Int!) { page(size: $size) { __typename totalCount \
                 pageInfo { hasPreviousPage hasNextPage startCursor endCursor __typename } \
                 edges { __typename cursor node { __typename id name version } } \
                 again: edges { node { createdAt } } ...Page \
                 nodes { id ... on Metric { metricType definition { event window { startSeconds } } } } \
                 edges { node { description } } } } \
                 fragment Page on MetricConnection { count: totalCount edges { ...Edge } } \
                 fragment Edge on MetricEdge { last: cursor }";
    for size in [3, 1, 0] {
        let request = || {
            async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(
                serde_json::json!({ "size": size }),
            ))
        };
        let (from_derived, from_walked) = (
            derived.execute(request()).await,
            walked.execute(request()).await,
        );
        assert!(from_derived.errors.is_empty(), "{:?}", from_derived.errors);
        assert!(from_walked.errors.is_empty(), "{:?}", from_walked.errors);
        let text = |data: &async_graphql::Value| serde_json::to_string(data).expect("serializes");
        let walked_text = text(&from_walked.data);
        assert_eq!(walked_text, text(&from_derived.data), "page of {size}");
        if size == 3 {
            assert!(
                walked_text.contains(r#""edges":[{"__typename":"MetricEdge","cursor":"#),
                "{walked_text}"
            );
            assert!(
                walked_text.contains(
                    r#""name":"Metric 2","version":3,"description":"What buyers pay"},"last":"#
                ),
                "{walked_text}"
            );
        }
    }
}
