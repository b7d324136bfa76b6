//! Scopes shared by the compiler's tests: a two-metric experiment (the one in the module doc) and
//! one with every aggregation, window shape and filter operator.

use chrono::{Duration, TimeZone, Utc};

use super::param::ParamValue;
use super::preview::PreviewScope;
use super::query::CompiledQuery;
use super::scope::{EventsTable, MetricSpec, MultipleExposureHandling, Placement, ResultsScope};
use crate::domain::metric::{
    Aggregation, FilterOp, FilterValue, MetricDefinition, MetricWindow, PropertyFilter, RatioPart,
    ValueSource,
};

/// Checkout experiment: conversion within 7 days for pro/team plans, and mean order amount.
pub fn scope() -> ResultsScope {
    ResultsScope {
        table: EventsTable {
            database: "default".into(),
            table: "events".into(),
            placement: Placement::Single,
        },
        environment_key: "prod".into(),
        feature_name: "new-checkout".into(),
        exposure_event: "$feature_flag_called".into(),
        variants: vec!["control".into(), "treatment".into()],
        start: Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap(),
        end: Utc.with_ymd_and_hms(2024, 3, 15, 0, 0, 0).unwrap(),
        handling: MultipleExposureHandling::FirstTouch,
        metrics: vec![
            metric(
                Aggregation::Occurrence,
                "purchase",
                None,
                Some((0, Some(7 * 86_400))),
                vec![filter(
                    "plan",
                    FilterOp::In,
                    Some(FilterValue::StringList(vec!["pro".into(), "team".into()])),
                )],
            ),
            metric(
                Aggregation::Mean,
                "purchase",
                Some(ValueSource::Property {
                    property: "amount".into(),
                }),
                None,
                vec![],
            ),
        ],
        cuped_lookback: None,
    }
}

/// EXCLUDE, and every aggregation, value source, window shape and filter operator.
pub fn every_kind_scope() -> ResultsScope {
    use FilterOp::*;
    use FilterValue as V;
    let s = |x: &str| Some(V::String(x.into()));
    let n = |x: f64| Some(V::Number(x));
    ResultsScope {
        handling: MultipleExposureHandling::Exclude,
        metrics: vec![
            metric(Aggregation::Occurrence, "signup", None, None, vec![]),
            metric(
                Aggregation::Count,
                "page_view",
                None,
                Some((3_600, None)),
                vec![
                    filter("path", Contains, s("pricing")),
                    filter("mobile", Eq, Some(V::Boolean(true))),
                    filter("bot", Neq, Some(V::Boolean(true))),
                ],
            ),
            metric(
                Aggregation::Sum,
                "purchase",
                Some(ValueSource::EventValue),
                Some((0, Some(86_400))),
                vec![
                    filter(
                        "plan",
                        In,
                        Some(V::StringList(vec!["pro".into(), "team".into()])),
                    ),
                    filter("coupon", NotExists, None),
                    filter("items", NotIn, Some(V::NumberList(vec![0.0]))),
                ],
            ),
            metric(
                Aggregation::Mean,
                "purchase",
                Some(ValueSource::Property {
                    property: "amount".into(),
                }),
                Some((60, Some(3 * 86_400))),
                vec![
                    filter("amount", Gte, n(10.0)),
                    filter("amount", Lt, n(1_000.0)),
                    filter("country", Neq, s("FR")),
                    filter("tier", Exists, None),
                ],
            ),
            metric(
                Aggregation::Count,
                "purchase",
                None,
                None,
                vec![
                    filter("amount", Gt, n(5.0)),
                    filter("amount", Lte, n(500.0)),
                    filter("plan", Eq, s("pro")),
                    filter("items", Eq, n(2.0)),
                    filter("channel", In, Some(V::NumberList(vec![1.0, 2.0]))),
                    filter("plan", NotIn, Some(V::StringList(vec!["free".into()]))),
                ],
            ),
        ],
        ..scope()
    }
}

/// A preview of the amount of pro/team purchases outside France over the week before `scope`'s end.
pub fn preview_scope() -> PreviewScope {
    let s = scope();
    PreviewScope {
        table: s.table,
        environment_key: s.environment_key,
        definition: MetricDefinition {
            event: "purchase".into(),
            filters: vec![
                filter(
                    "plan",
                    FilterOp::In,
                    Some(FilterValue::StringList(vec!["pro".into(), "team".into()])),
                ),
                filter(
                    "country",
                    FilterOp::Neq,
                    Some(FilterValue::String("FR".into())),
                ),
            ],
            value: Some(ValueSource::Property {
                property: "amount".into(),
            }),
            ..Default::default()
        },
        start: s.end - Duration::days(7),
        end: s.end,
    }
}

/// A funnel (a filter on one step, a window) and capped metrics of each kind and bound.
pub fn funnel_capping_scope() -> ResultsScope {
    use crate::domain::metric::{Capping, CappingKind, FunnelStep};
    let step = |event: &str, filters| FunnelStep {
        event: event.into(),
        filters,
    };
    let capped = |aggregation, value, kind, upper, lower, ignore_zeros| {
        let mut spec = metric(aggregation, "purchase", value, None, vec![]);
        spec.definition.capping = Some(Capping {
            kind,
            upper,
            lower,
            ignore_zeros,
        });
        spec
    };
    let mut funnel = metric(
        Aggregation::Occurrence,
        "",
        None,
        Some((0, Some(86_400))),
        vec![],
    );
    funnel.definition.steps = vec![
        step("view", vec![]),
        step(
            "cart",
            vec![filter(
                "plan",
                FilterOp::Eq,
                Some(FilterValue::String("pro".into())),
            )],
        ),
        step("purchase", vec![]),
    ];
    let value = || Some(ValueSource::EventValue);
    ResultsScope {
        metrics: vec![
            funnel,
            capped(
                Aggregation::Count,
                None,
                CappingKind::Absolute,
                5.0,
                None,
                false,
            ),
            capped(
                Aggregation::Sum,
                value(),
                CappingKind::Percentile,
                0.99,
                None,
                true,
            ),
            capped(
                Aggregation::Mean,
                value(),
                CappingKind::Percentile,
                0.9,
                Some(0.1),
                false,
            ),
        ],
        ..scope()
    }
}

/// QUANTILE metrics beside a COUNT: p90 of purchase values over events (zeros left out) within a
/// day, and the median of identities' summed `amount` (zeros kept).
pub fn quantile_scope() -> ResultsScope {
    use crate::domain::metric::{QuantileOver, QuantileSpec};
    let quantile = |mut spec: MetricSpec, level: f64, over: QuantileOver, ignore_zeros: bool| {
        spec.definition.quantile = Some(QuantileSpec {
            level,
            over,
            ignore_zeros,
        });
        spec
    };
    ResultsScope {
        metrics: vec![
            metric(Aggregation::Count, "page_view", None, None, vec![]),
            quantile(
                metric(
                    Aggregation::Quantile,
                    "purchase",
                    Some(ValueSource::EventValue),
                    Some((0, Some(86_400))),
                    vec![],
                ),
                0.9,
                QuantileOver::Events,
                true,
            ),
            quantile(
                metric(
                    Aggregation::Quantile,
                    "purchase",
                    Some(ValueSource::Property {
                        property: "amount".into(),
                    }),
                    None,
                    vec![filter(
                        "plan",
                        FilterOp::Eq,
                        Some(FilterValue::String("pro".into())),
                    )],
                ),
                0.5,
                QuantileOver::Identities,
                false,
            ),
        ],
        ..scope()
    }
}

/// `scope` with CUPED over a 14-day lookback.
pub fn with_cuped(mut scope: ResultsScope) -> ResultsScope {
    scope.cuped_lookback = Some(Duration::days(14));
    scope
}

pub fn metric(
    aggregation: Aggregation,
    event: &str,
    value: Option<ValueSource>,
    window: Option<(i64, Option<i64>)>,
    filters: Vec<PropertyFilter>,
) -> MetricSpec {
    MetricSpec {
        aggregation,
        definition: MetricDefinition {
            event: event.into(),
            filters,
            value,
            window: window.map(|(start_seconds, end_seconds)| MetricWindow {
                start_seconds,
                end_seconds,
            }),
            ..Default::default()
        },
    }
}

pub fn filter(property: &str, op: FilterOp, value: Option<FilterValue>) -> PropertyFilter {
    PropertyFilter {
        property: property.into(),
        op,
        value,
    }
}

/// The text sent for parameter `name`.
pub fn param_text(query: &CompiledQuery, name: &str) -> String {
    param(query, name).to_clickhouse_text()
}

pub fn param<'q>(query: &'q CompiledQuery, name: &str) -> &'q ParamValue {
    query
        .params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no parameter {name} in {:?}", query.params))
}

/// A RATIO metric over the whole window from its parts `(event, COUNT | SUM, value source)`.
pub fn ratio_metric(
    numerator: (&str, Aggregation, Option<ValueSource>),
    denominator: (&str, Aggregation, Option<ValueSource>),
) -> MetricSpec {
    let part = |(event, aggregation, value): (&str, Aggregation, Option<ValueSource>)| RatioPart {
        event: event.into(),
        filters: vec![],
        aggregation,
        value,
    };
    MetricSpec {
        aggregation: Aggregation::Ratio,
        definition: MetricDefinition {
            numerator: Some(part(numerator)),
            denominator: Some(part(denominator)),
            ..Default::default()
        },
    }
}

/// The two-metric scope with a RATIO metric between them: revenue per session within 7 days,
/// for pro plans (SUM of purchase amounts over COUNT of session starts).
pub fn ratio_scope() -> ResultsScope {
    let mut s = scope();
    let mut ratio = ratio_metric(
        (
            "purchase",
            Aggregation::Sum,
            Some(ValueSource::Property {
                property: "amount".into(),
            }),
        ),
        ("session_start", Aggregation::Count, None),
    );
    ratio.definition.window = Some(MetricWindow {
        start_seconds: 0,
        end_seconds: Some(7 * 86_400),
    });
    if let Some(numerator) = ratio.definition.numerator.as_mut() {
        numerator.filters = vec![filter(
            "plan",
            FilterOp::Eq,
            Some(FilterValue::String("pro".into())),
        )];
    }
    s.metrics.insert(1, ratio);
    s
}
