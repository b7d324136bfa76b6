use super::parse::*;
use super::*;

#[test]
fn windows_longer_than_ten_years_are_rejected() {
    let window = MetricWindow {
        start_seconds: 0,
        end_seconds: Some(MAX_WINDOW_SECONDS + 1),
    };
    assert!(matches!(
        check_window(window),
        Err(DomainError::Validation { field, .. }) if field == "definition.window.endSeconds"
    ));
}

fn draft(aggregation: Aggregation) -> MetricDraft {
    MetricDraft {
        name: " Checkout conversion ".into(),
        description: String::new(),
        metric_type: if aggregation == Aggregation::Occurrence {
            MetricType::Conversion
        } else {
            MetricType::Numeric
        },
        aggregation,
        direction: Direction::Up,
        definition: MetricDefinition::on_event("purchase"),
    }
}

fn field_of(result: DomainResult<NewMetric>) -> String {
    match result {
        Err(DomainError::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn filter(op: FilterOp, value: Option<FilterValue>) -> PropertyFilter {
    PropertyFilter {
        property: "plan".into(),
        op,
        value,
    }
}

#[test]
fn a_valid_conversion_metric_is_trimmed_and_kept() {
    let metric = NewMetric::parse(draft(Aggregation::Occurrence)).expect("valid");
    assert_eq!(metric.name, "Checkout conversion");
}

#[test]
fn conversion_requires_occurrence_and_numeric_refuses_it() {
    let mut d = draft(Aggregation::Count);
    d.metric_type = MetricType::Conversion;
    assert_eq!(field_of(NewMetric::parse(d)), "aggregation");
    let mut d = draft(Aggregation::Occurrence);
    d.metric_type = MetricType::Numeric;
    assert_eq!(field_of(NewMetric::parse(d)), "aggregation");
}

#[test]
fn sum_and_mean_need_a_value_source_count_and_occurrence_refuse_one() {
    for agg in [Aggregation::Sum, Aggregation::Mean] {
        assert_eq!(field_of(NewMetric::parse(draft(agg))), "definition.value");
        let mut d = draft(agg);
        d.definition.value = Some(ValueSource::EventValue);
        assert!(NewMetric::parse(d).is_ok());
    }
    for agg in [Aggregation::Count, Aggregation::Occurrence] {
        let mut d = draft(agg);
        d.definition.value = Some(ValueSource::EventValue);
        assert_eq!(field_of(NewMetric::parse(d)), "definition.value");
    }
    let mut d = draft(Aggregation::Sum);
    d.definition.value = Some(ValueSource::Property {
        property: " ".into(),
    });
    assert_eq!(field_of(NewMetric::parse(d)), "definition.value.property");
}

#[test]
fn filter_values_must_fit_their_operator() {
    use FilterValue as V;
    let ok = [
        filter(FilterOp::Eq, Some(V::String("pro".into()))),
        filter(FilterOp::Neq, Some(V::Boolean(true))),
        filter(FilterOp::In, Some(V::StringList(vec!["a".into()]))),
        filter(FilterOp::NotIn, Some(V::NumberList(vec![1.0, 2.0]))),
        filter(FilterOp::Gte, Some(V::Number(3.5))),
        filter(FilterOp::Contains, Some(V::String("x".into()))),
        filter(FilterOp::Exists, None),
    ];
    for f in ok {
        let mut d = draft(Aggregation::Count);
        d.definition.filters = vec![f.clone()];
        assert!(NewMetric::parse(d).is_ok(), "{f:?}");
    }
    let bad = [
        filter(FilterOp::Eq, None),
        filter(FilterOp::Eq, Some(V::StringList(vec!["a".into()]))),
        filter(FilterOp::In, Some(V::StringList(vec![]))),
        filter(FilterOp::In, Some(V::String("a".into()))),
        filter(FilterOp::Gt, Some(V::String("3".into()))),
        filter(FilterOp::Contains, Some(V::Number(1.0))),
        filter(FilterOp::NotExists, Some(V::Boolean(false))),
        filter(FilterOp::Lt, Some(V::Number(f64::NAN))),
    ];
    for f in bad {
        let mut d = draft(Aggregation::Count);
        d.definition.filters = vec![filter(FilterOp::Exists, None), f.clone()];
        assert_eq!(
            field_of(NewMetric::parse(d)),
            "definition.filters[1].value",
            "{f:?}"
        );
    }
}

#[test]
fn at_most_twenty_filters() {
    let mut d = draft(Aggregation::Count);
    d.definition.filters = vec![filter(FilterOp::Exists, None); MAX_FILTERS + 1];
    assert_eq!(field_of(NewMetric::parse(d)), "definition.filters");
}

#[test]
fn windows_start_at_exposure_and_end_after_they_start() {
    let with_window = |start, end| {
        let mut d = draft(Aggregation::Count);
        d.definition.window = Some(MetricWindow {
            start_seconds: start,
            end_seconds: end,
        });
        NewMetric::parse(d)
    };
    assert!(with_window(0, None).is_ok());
    assert!(with_window(60, Some(61)).is_ok());
    assert_eq!(
        field_of(with_window(-1, None)),
        "definition.window.startSeconds"
    );
    assert_eq!(
        field_of(with_window(60, Some(60))),
        "definition.window.endSeconds"
    );
}

#[test]
fn event_names_are_bounded() {
    let mut d = draft(Aggregation::Count);
    d.definition.event = "e".repeat(MAX_EVENT + 1);
    assert_eq!(field_of(NewMetric::parse(d)), "definition.event");
    let mut d = draft(Aggregation::Count);
    d.definition.event = "".into();
    assert_eq!(field_of(NewMetric::parse(d)), "definition.event");
}

#[test]
fn stored_definitions_round_trip_with_their_version() {
    let mut d = draft(Aggregation::Sum);
    d.definition.value = Some(ValueSource::Property {
        property: "amount".into(),
    });
    d.definition.filters = vec![filter(
        FilterOp::In,
        Some(FilterValue::StringList(vec!["a".into()])),
    )];
    d.definition.window = Some(MetricWindow {
        start_seconds: 0,
        end_seconds: Some(3600),
    });
    let stored = d.definition.to_stored();
    assert_eq!(stored["version"], DEFINITION_VERSION);
    assert_eq!(stored["value"]["source"], "PROPERTY");
    assert_eq!(
        MetricDefinition::from_stored_text(&stored.to_string()),
        Ok(d.definition.clone())
    );
    assert_eq!(MetricDefinition::from_stored(stored), Ok(d.definition));
}

/// Both readers of a stored definition (from a JSON value, from its text) give the same answer.
fn read_stored(stored: serde_json::Value) -> Result<MetricDefinition, String> {
    let from_text = MetricDefinition::from_stored_text(&stored.to_string());
    let from_value = MetricDefinition::from_stored(stored.clone());
    match (&from_value, &from_text) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{stored}"),
        (Err(_), Err(_)) => {}
        _ => panic!("{stored}: from a value {from_value:?}, from text {from_text:?}"),
    }
    from_text.and(from_value)
}

#[test]
fn unknown_definition_versions_are_refused() {
    let stored = serde_json::json!({"version": DEFINITION_VERSION + 1, "event": "x"});
    assert!(read_stored(stored).is_err());
}

#[test]
fn a_stored_definition_without_a_whole_version_or_of_the_wrong_shape_is_refused() {
    for (stored, says) in [
        (serde_json::json!({"event": "x"}), "missing field `version`"),
        (
            serde_json::json!({"version": "2", "event": "x"}),
            "not a whole number",
        ),
        (
            serde_json::json!({"version": 1.5, "event": "x"}),
            "not a whole number",
        ),
        (
            serde_json::json!({"version": 0, "event": "x"}),
            "not supported",
        ),
        (serde_json::json!({"version": 2, "event": 7}), "malformed"),
        (serde_json::json!([2]), "missing field `version`"),
    ] {
        for refused in [
            MetricDefinition::from_stored(stored.clone()).expect_err("refused"),
            MetricDefinition::from_stored_text(&stored.to_string()).expect_err("refused"),
        ] {
            assert!(refused.contains(says), "{stored}: {refused}");
        }
    }
    // Every readable version reads, the version key aside.
    for version in 1..=DEFINITION_VERSION {
        let stored = serde_json::json!({"version": version, "event": "x"});
        assert_eq!(read_stored(stored), Ok(MetricDefinition::on_event("x")));
    }
}

fn filter_on(property: &str) -> PropertyFilter {
    PropertyFilter {
        property: property.into(),
        op: FilterOp::Exists,
        value: None,
    }
}

fn funnel(steps: usize) -> MetricDraft {
    let mut d = draft(Aggregation::Occurrence);
    d.definition = MetricDefinition {
        steps: (0..steps)
            .map(|i| FunnelStep {
                event: format!(" step{i} "),
                filters: vec![filter_on("plan")],
            })
            .collect(),
        ..Default::default()
    };
    d
}

fn part(aggregation: Aggregation, value: Option<ValueSource>) -> RatioPart {
    RatioPart {
        event: "purchase".into(),
        filters: vec![],
        aggregation,
        value,
    }
}

fn ratio() -> MetricDraft {
    let mut d = draft(Aggregation::Ratio);
    d.metric_type = MetricType::Ratio;
    d.definition = MetricDefinition {
        numerator: Some(part(Aggregation::Sum, Some(ValueSource::EventValue))),
        denominator: Some(part(Aggregation::Count, None)),
        ..Default::default()
    };
    d
}

#[test]
fn a_funnel_has_two_to_eight_trimmed_steps_and_nothing_of_a_single_event() {
    let metric = NewMetric::parse(funnel(3)).expect("valid funnel");
    assert_eq!(metric.definition.steps[1].event, "step1");
    assert_eq!(field_of(NewMetric::parse(funnel(1))), "definition.steps");
    assert_eq!(
        field_of(NewMetric::parse(funnel(MAX_FUNNEL_STEPS + 1))),
        "definition.steps"
    );
    let mut d = funnel(2);
    d.definition.event = "purchase".into();
    assert_eq!(field_of(NewMetric::parse(d)), "definition.event");
    let mut d = funnel(2);
    d.definition.steps[1].event = " ".into();
    assert_eq!(field_of(NewMetric::parse(d)), "definition.steps[1].event");
    let mut d = funnel(2);
    d.definition.steps[0].filters = vec![filter(FilterOp::Gt, None)];
    assert_eq!(
        field_of(NewMetric::parse(d)),
        "definition.steps[0].filters[0].value"
    );
    let mut d = funnel(2);
    d.metric_type = MetricType::Numeric;
    d.aggregation = Aggregation::Count;
    assert_eq!(field_of(NewMetric::parse(d)), "definition.steps");
}

#[test]
fn a_ratio_takes_a_count_or_sum_numerator_and_denominator_and_nothing_else() {
    assert!(NewMetric::parse(ratio()).is_ok());
    let mut d = ratio();
    d.definition.denominator = None;
    assert_eq!(field_of(NewMetric::parse(d)), "definition.denominator");
    let mut d = ratio();
    d.definition.numerator = Some(part(Aggregation::Mean, Some(ValueSource::EventValue)));
    assert_eq!(
        field_of(NewMetric::parse(d)),
        "definition.numerator.aggregation"
    );
    let mut d = ratio();
    d.definition.numerator = Some(part(Aggregation::Sum, None));
    assert_eq!(field_of(NewMetric::parse(d)), "definition.numerator.value");
    let mut d = ratio();
    d.definition.event = "purchase".into();
    assert_eq!(field_of(NewMetric::parse(d)), "definition.event");
    let mut d = ratio();
    d.aggregation = Aggregation::Sum;
    assert_eq!(field_of(NewMetric::parse(d)), "aggregation");
    let mut d = draft(Aggregation::Count);
    d.definition.numerator = Some(part(Aggregation::Count, None));
    assert_eq!(field_of(NewMetric::parse(d)), "definition.numerator");
}

#[test]
fn a_quantile_metric_needs_a_level_in_range_and_a_value() {
    let quantile = |level| {
        let mut d = draft(Aggregation::Quantile);
        d.definition.value = Some(ValueSource::EventValue);
        d.definition.quantile = Some(QuantileSpec {
            level,
            over: QuantileOver::Events,
            ignore_zeros: false,
        });
        NewMetric::parse(d)
    };
    assert!(quantile(0.5).is_ok());
    assert!(quantile(0.99).is_ok());
    for level in [0.49, 0.995, f64::NAN] {
        assert_eq!(field_of(quantile(level)), "definition.quantile.level");
    }
    let mut d = draft(Aggregation::Quantile);
    d.definition.value = Some(ValueSource::EventValue);
    assert_eq!(field_of(NewMetric::parse(d)), "definition.quantile");
    let mut d = draft(Aggregation::Sum);
    d.definition.value = Some(ValueSource::EventValue);
    d.definition.quantile = Some(QuantileSpec {
        level: 0.9,
        over: QuantileOver::Identities,
        ignore_zeros: false,
    });
    assert_eq!(field_of(NewMetric::parse(d)), "definition.quantile");
}

#[test]
fn caps_fit_their_kind_and_only_count_sum_and_mean_take_them() {
    let capped = |aggregation, kind, upper, lower, ignore_zeros| {
        let mut d = draft(aggregation);
        if aggregation != Aggregation::Count && aggregation != Aggregation::Occurrence {
            d.definition.value = Some(ValueSource::EventValue);
        }
        d.definition.capping = Some(Capping {
            kind,
            upper,
            lower,
            ignore_zeros,
        });
        NewMetric::parse(d)
    };
    use CappingKind::{Absolute, Percentile};
    assert!(capped(Aggregation::Sum, Absolute, 100.0, Some(-5.0), false).is_ok());
    assert!(capped(Aggregation::Count, Percentile, 0.99, Some(0.01), true).is_ok());
    assert!(capped(Aggregation::Mean, Percentile, 1.0, None, false).is_ok());
    let field = |r| field_of(r);
    assert_eq!(
        field(capped(Aggregation::Sum, Absolute, 10.0, Some(10.0), false)),
        "definition.capping.lower"
    );
    assert_eq!(
        field(capped(Aggregation::Sum, Absolute, 10.0, None, true)),
        "definition.capping.ignoreZeros"
    );
    assert_eq!(
        field(capped(Aggregation::Sum, Percentile, 1.5, None, false)),
        "definition.capping.upper"
    );
    assert_eq!(
        field(capped(Aggregation::Sum, Percentile, 0.9, Some(0.9), false)),
        "definition.capping.lower"
    );
    assert_eq!(
        field(capped(
            Aggregation::Sum,
            Absolute,
            f64::INFINITY,
            None,
            false
        )),
        "definition.capping.upper"
    );
    assert_eq!(
        field(capped(Aggregation::Occurrence, Absolute, 1.0, None, false)),
        "definition.capping"
    );
}

#[test]
fn a_format_1_definition_reads_as_the_same_metric() {
    let stored = serde_json::json!({
        "version": 1, "event": "purchase", "filters": [],
        "value": {"source": "EVENT_VALUE"}
    });
    let definition = read_stored(stored).expect("format 1 reads");
    assert_eq!(
        definition,
        MetricDefinition {
            value: Some(ValueSource::EventValue),
            ..MetricDefinition::on_event("purchase")
        }
    );
}

#[test]
fn every_kind_round_trips_through_the_stored_format() {
    for d in [funnel(2), ratio()] {
        let metric = NewMetric::parse(d).expect("valid");
        let stored = metric.definition.to_stored();
        assert_eq!(read_stored(stored).as_ref(), Ok(&metric.definition));
    }
}
