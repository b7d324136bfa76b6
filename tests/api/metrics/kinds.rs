//! The catalogue's kinds through GraphQL: a funnel, a ratio, a quantile and a capped metric
//! round-trip from `createMetric` to `metric(id)` exactly as defined, and each kind's rules are
//! refused as `BAD_USER_INPUT` naming the field, storing nothing.

use super::*;

const CREATE_KIND: &str = "mutation($input: CreateMetricInput!) { createMetric(input: $input) { id metricType aggregation definition { ...Definition } } }";

const READ_KIND: &str = "query($id: ID!) { metric(id: $id) { id metricType aggregation definition { ...Definition } } }";

const DEFINITION: &str = "fragment Definition on MetricDefinition { event filters { property op } value { source property } window { startSeconds endSeconds } steps { event filters { property op } } numerator { ...Part } denominator { ...Part } quantile { level over ignoreZeros } capping { kind upper lower ignoreZeros } } fragment Part on RatioPart { event filters { property op } aggregation value { source property } }";

fn with_fragments(operation: &str) -> String {
    format!("{operation} {DEFINITION}")
}

/// The output of a definition: every part absent unless `set` names it.
fn definition(set: Value) -> Value {
    let mut out = json!({
        "event": null, "filters": [], "value": null, "window": null, "steps": [],
        "numerator": null, "denominator": null, "quantile": null, "capping": null
    });
    for (key, value) in set.as_object().expect("object") {
        out[key] = value.clone();
    }
    out
}

fn input(name: &str, metric_type: &str, aggregation: &str, definition: Value) -> Value {
    json!({
        "environmentKey": ENV, "name": name, "metricType": metric_type,
        "aggregation": aggregation, "direction": "UP", "definition": definition
    })
}

fn funnel() -> Value {
    input(
        "Sign-up to purchase",
        "CONVERSION",
        "OCCURRENCE",
        json!({
            "steps": [
                {"event": "signup"},
                {"event": "activate", "filters": [{"property": "plan", "op": "EXISTS"}]},
                {"event": "purchase"}
            ],
            "window": {"startSeconds": 0, "endSeconds": 604800}
        }),
    )
}

fn ratio() -> Value {
    input(
        "Average order value",
        "RATIO",
        "RATIO",
        json!({
            "numerator": {"event": "purchase", "aggregation": "SUM", "value": {"source": "EVENT_VALUE"}},
            "denominator": {"event": "purchase", "aggregation": "COUNT",
                            "filters": [{"property": "refunded", "op": "NOT_EXISTS"}]}
        }),
    )
}

fn quantile() -> Value {
    input(
        "p90 checkout latency",
        "NUMERIC",
        "QUANTILE",
        json!({
            "event": "checkout", "value": {"source": "PROPERTY", "property": "latency_ms"},
            "quantile": {"level": 0.9, "over": "EVENTS"}
        }),
    )
}

fn capped() -> Value {
    input(
        "Revenue, whales capped",
        "NUMERIC",
        "SUM",
        json!({
            "event": "purchase", "value": {"source": "EVENT_VALUE"},
            "capping": {"kind": "PERCENTILE", "upper": 0.99, "ignoreZeros": true}
        }),
    )
}

db_test!(
    a_funnel_a_ratio_a_quantile_and_a_capped_metric_round_trip,
    |app| {
        app.world().await;
        let part = |event: &str, aggregation: &str, value: Value, filters: Value| json!({"event": event, "filters": filters, "aggregation": aggregation, "value": value});
        let cases = [
            (
                funnel(),
                definition(json!({
                    "steps": [
                        {"event": "signup", "filters": []},
                        {"event": "activate", "filters": [{"property": "plan", "op": "EXISTS"}]},
                        {"event": "purchase", "filters": []}
                    ],
                    "window": {"startSeconds": 0, "endSeconds": 604800}
                })),
            ),
            (
                ratio(),
                definition(json!({
                    "numerator": part("purchase", "SUM",
                                      json!({"source": "EVENT_VALUE", "property": null}), json!([])),
                    "denominator": part("purchase", "COUNT", Value::Null,
                                        json!([{"property": "refunded", "op": "NOT_EXISTS"}]))
                })),
            ),
            (
                quantile(),
                definition(json!({
                    "event": "checkout",
                    "value": {"source": "PROPERTY", "property": "latency_ms"},
                    "quantile": {"level": 0.9, "over": "EVENTS", "ignoreZeros": false}
                })),
            ),
            (
                capped(),
                definition(json!({
                    "event": "purchase",
                    "value": {"source": "EVENT_VALUE", "property": null},
                    "capping": {"kind": "PERCENTILE", "upper": 0.99, "lower": null, "ignoreZeros": true}
                })),
            ),
        ];
        for (input, want) in cases {
            let created = app
                .ok(
                    users::ORG_ADMIN,
                    &with_fragments(CREATE_KIND),
                    json!({ "input": input }),
                )
                .await["createMetric"]
                .clone();
            assert_eq!(created["metricType"], input["metricType"]);
            assert_eq!(created["aggregation"], input["aggregation"]);
            assert_eq!(
                created["definition"], want,
                "createMetric {}",
                input["name"]
            );
            let read = app
                .ok(
                    users::ORG_ADMIN,
                    &with_fragments(READ_KIND),
                    json!({"id": created["id"]}),
                )
                .await["metric"]
                .clone();
            assert_eq!(read, created, "metric(id) of {}", input["name"]);
        }
    }
);

db_test!(
    each_kinds_rules_are_bad_user_input_naming_the_field_and_store_nothing,
    |app| {
        app.world().await;
        let with = |base: fn() -> Value, patch: &dyn Fn(&mut Value)| {
            let mut input = base();
            patch(&mut input);
            input
        };
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "a funnel of one step",
                with(funnel, &|i| {
                    i["definition"]["steps"] = json!([{"event": "signup"}])
                }),
                "definition.steps",
            ),
            (
                "a funnel of nine steps",
                with(funnel, &|i| {
                    i["definition"]["steps"] = json!(vec![json!({"event": "e"}); 9])
                }),
                "definition.steps",
            ),
            (
                "a funnel with an event beside its steps",
                with(funnel, &|i| i["definition"]["event"] = json!("signup")),
                "definition.event",
            ),
            (
                "a blank step",
                with(funnel, &|i| {
                    i["definition"]["steps"][2]["event"] = json!(" ")
                }),
                "definition.steps[2].event",
            ),
            (
                "a NUMERIC funnel",
                with(funnel, &|i| {
                    i["metricType"] = json!("NUMERIC");
                    i["aggregation"] = json!("COUNT");
                }),
                "definition.steps",
            ),
            (
                "a ratio without a denominator",
                with(ratio, &|i| i["definition"]["denominator"] = Value::Null),
                "definition.denominator",
            ),
            (
                "a MEAN numerator",
                with(ratio, &|i| {
                    i["definition"]["numerator"]["aggregation"] = json!("MEAN")
                }),
                "definition.numerator.aggregation",
            ),
            (
                "a COUNT denominator with a value",
                with(ratio, &|i| {
                    i["definition"]["denominator"]["value"] = json!({"source": "EVENT_VALUE"})
                }),
                "definition.denominator.value",
            ),
            (
                "a RATIO metric aggregated by SUM",
                with(ratio, &|i| i["aggregation"] = json!("SUM")),
                "aggregation",
            ),
            (
                "a numerator on a NUMERIC metric",
                with(capped, &|i| {
                    i["definition"]["numerator"] = json!({"event": "x", "aggregation": "COUNT"})
                }),
                "definition.numerator",
            ),
            (
                "a quantile level of 0.995",
                with(quantile, &|i| {
                    i["definition"]["quantile"]["level"] = json!(0.995)
                }),
                "definition.quantile.level",
            ),
            (
                "a QUANTILE metric without its quantile",
                with(quantile, &|i| i["definition"]["quantile"] = Value::Null),
                "definition.quantile",
            ),
            (
                "a quantile on a SUM metric",
                with(capped, &|i| {
                    i["definition"]["quantile"] = json!({"level": 0.9, "over": "IDENTITIES"})
                }),
                "definition.quantile",
            ),
            (
                "a percentile cap above 1",
                with(capped, &|i| {
                    i["definition"]["capping"]["upper"] = json!(1.5)
                }),
                "definition.capping.upper",
            ),
            (
                "an absolute cap ignoring zeros",
                with(
                    capped,
                    &|i| {
                        i["definition"]["capping"] =
                            json!({"kind": "ABSOLUTE", "upper": 100, "ignoreZeros": true})
                    },
                ),
                "definition.capping.ignoreZeros",
            ),
            (
                "a lower absolute cap above the upper",
                with(capped, &|i| {
                    i["definition"]["capping"] =
                        json!({"kind": "ABSOLUTE", "upper": 100, "lower": 200})
                }),
                "definition.capping.lower",
            ),
            (
                "capping a funnel",
                with(funnel, &|i| {
                    i["definition"]["capping"] = json!({"kind": "ABSOLUTE", "upper": 1})
                }),
                "definition.capping",
            ),
            (
                "capping a quantile",
                with(quantile, &|i| {
                    i["definition"]["capping"] = json!({"kind": "ABSOLUTE", "upper": 1})
                }),
                "definition.capping",
            ),
        ];
        for (what, input, want) in cases {
            let body = create(&app, input).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{what}: {body}");
            assert_eq!(field(&body), want, "{what}: {body}");
        }
        let (total, _) = library(&app, ENV, None).await;
        assert_eq!(total, 0, "a refused createMetric stores nothing");
    }
);
