//! The experiment being measured: `new-checkout` (control/treatment, EXCLUDE) with the demo's
//! five metrics, as lift's compiler receives it.

use chrono::{DateTime, Duration, Utc};

use lift::domain::metric::{
    Aggregation, Capping, CappingKind, FilterOp, FilterValue, FunnelStep, MetricDefinition,
    MetricWindow, PropertyFilter, QuantileOver, QuantileSpec, RatioPart, ValueSource,
};
use lift::sql::{EventsTable, MetricSpec, MultipleExposureHandling, Placement, ResultsScope};

use crate::generate::{ENVIRONMENT, EXPOSURE_EVENT, FEATURE};

/// The experiment starts here; exposures are generated over its first 10 days.
pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .expect("a date")
        .with_timezone(&Utc)
}

/// 12 days: purchases come up to 5 days after exposure, so the end cuts some.
pub fn end() -> DateTime<Utc> {
    start() + Duration::days(12)
}

/// CUPED's lookback in the timed CUPED query (lift's default setting).
pub const CUPED_LOOKBACK_DAYS: i64 = 14;

/// The window of the `pro` conversion metric.
pub const PRO_WINDOW_SECONDS: i64 = 3 * 86_400;

/// What the report calls each metric, in scope order.
pub const METRIC_NAMES: [&str; 5] = [
    "OCCURRENCE purchase",
    "SUM purchase value",
    "MEAN purchase value",
    "OCCURRENCE purchase plan=pro 3d",
    "COUNT pageview",
];

pub fn results_scope(database: &str, table: &str) -> ResultsScope {
    let purchase = |value: Option<ValueSource>| MetricDefinition {
        value,
        ..MetricDefinition::on_event("purchase")
    };
    let metric = |aggregation, definition| MetricSpec {
        aggregation,
        definition,
    };
    ResultsScope {
        table: EventsTable {
            database: database.to_owned(),
            table: table.into(),
            placement: Placement::Single,
        },
        environment_key: ENVIRONMENT.into(),
        feature_name: FEATURE.into(),
        exposure_event: EXPOSURE_EVENT.into(),
        variants: vec!["control".into(), "treatment".into()],
        start: start(),
        end: end(),
        handling: MultipleExposureHandling::Exclude,
        metrics: vec![
            metric(Aggregation::Occurrence, purchase(None)),
            metric(Aggregation::Sum, purchase(Some(ValueSource::EventValue))),
            metric(Aggregation::Mean, purchase(Some(ValueSource::EventValue))),
            metric(
                Aggregation::Occurrence,
                MetricDefinition {
                    filters: vec![PropertyFilter {
                        property: "plan".into(),
                        op: FilterOp::Eq,
                        value: Some(FilterValue::String("pro".into())),
                    }],
                    window: Some(MetricWindow {
                        start_seconds: 0,
                        end_seconds: Some(PRO_WINDOW_SECONDS),
                    }),
                    ..purchase(None)
                },
            ),
            metric(Aggregation::Count, MetricDefinition::on_event("pageview")),
        ],
        cuped_lookback: None,
    }
}

/// The same experiment with CUPED over [`CUPED_LOOKBACK_DAYS`].
pub fn cuped_scope(database: &str, table: &str) -> ResultsScope {
    ResultsScope {
        cuped_lookback: Some(Duration::days(CUPED_LOOKBACK_DAYS)),
        ..results_scope(database, table)
    }
}

/// What the catalogue query's metrics are, in scope order.
pub const CATALOGUE_NAMES: [&str; 5] = [
    "OCCURRENCE purchase",
    "SUM purchase value capped at p99",
    "RATIO purchase value / purchases",
    "QUANTILE p90 purchase value (events)",
    "FUNNEL pageview → purchase",
];

/// The same experiment with one metric of every kind: a conversion, a percentile-capped sum, a
/// ratio, an event-level quantile and a two-step funnel (issue 11: still one read of the table).
pub fn catalogue_scope(database: &str, table: &str) -> ResultsScope {
    let value = || Some(ValueSource::EventValue);
    let metric = |aggregation, definition| MetricSpec {
        aggregation,
        definition,
    };
    let part = |aggregation, value| RatioPart {
        event: "purchase".into(),
        filters: vec![],
        aggregation,
        value,
    };
    ResultsScope {
        metrics: vec![
            metric(
                Aggregation::Occurrence,
                MetricDefinition::on_event("purchase"),
            ),
            metric(
                Aggregation::Sum,
                MetricDefinition {
                    value: value(),
                    capping: Some(Capping {
                        kind: CappingKind::Percentile,
                        upper: 0.99,
                        lower: None,
                        ignore_zeros: true,
                    }),
                    ..MetricDefinition::on_event("purchase")
                },
            ),
            metric(
                Aggregation::Ratio,
                MetricDefinition {
                    numerator: Some(part(Aggregation::Sum, value())),
                    denominator: Some(part(Aggregation::Count, None)),
                    ..Default::default()
                },
            ),
            metric(
                Aggregation::Quantile,
                MetricDefinition {
                    value: value(),
                    quantile: Some(QuantileSpec {
                        level: 0.9,
                        over: QuantileOver::Events,
                        ignore_zeros: false,
                    }),
                    ..MetricDefinition::on_event("purchase")
                },
            ),
            metric(
                Aggregation::Occurrence,
                MetricDefinition {
                    steps: ["pageview", "purchase"]
                        .map(|event| FunnelStep {
                            event: event.into(),
                            filters: vec![],
                        })
                        .to_vec(),
                    ..Default::default()
                },
            ),
        ],
        ..results_scope(database, table)
    }
}
