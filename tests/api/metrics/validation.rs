//! Every metric definition rule is refused as `BAD_USER_INPUT` naming its field, the limits
//! themselves are accepted, and a refused `createMetric` stores nothing.

use super::*;

db_test!(
    every_metric_validation_rule_is_bad_user_input_naming_its_field,
    |app| {
        app.world().await;
        let base = || metric_input(ENV, "Rule check");
        let with = |patch: &dyn Fn(&mut Value)| {
            let mut input = base();
            patch(&mut input);
            input
        };
        let filter =
            |f: Value| with(&move |i: &mut Value| i["definition"]["filters"] = json!([f.clone()]));
        let twenty_one: Vec<Value> = (0..21)
            .map(|i| json!({"property": format!("p{i}"), "op": "EXISTS"}))
            .collect();

        let cases: Vec<(&str, Value, &str)> = vec![
            ("empty name", with(&|i| i["name"] = json!("")), "name"),
            ("blank name", with(&|i| i["name"] = json!("   ")), "name"),
            (
                "256-char name",
                with(&|i| i["name"] = json!("n".repeat(256))),
                "name",
            ),
            (
                "description over 10000 chars",
                with(&|i| i["description"] = json!("d".repeat(10_001))),
                "description",
            ),
            (
                "CONVERSION with COUNT",
                with(&|i| i["metricType"] = json!("CONVERSION")),
                "aggregation",
            ),
            (
                "CONVERSION with SUM",
                with(&|i| {
                    i["metricType"] = json!("CONVERSION");
                    i["aggregation"] = json!("SUM");
                    i["definition"]["value"] = json!({"source": "EVENT_VALUE"});
                }),
                "aggregation",
            ),
            (
                "CONVERSION with MEAN",
                with(&|i| {
                    i["metricType"] = json!("CONVERSION");
                    i["aggregation"] = json!("MEAN");
                    i["definition"]["value"] = json!({"source": "EVENT_VALUE"});
                }),
                "aggregation",
            ),
            (
                "NUMERIC with OCCURRENCE",
                with(&|i| i["aggregation"] = json!("OCCURRENCE")),
                "aggregation",
            ),
            (
                "SUM without a value source",
                with(&|i| i["aggregation"] = json!("SUM")),
                "definition.value",
            ),
            (
                "MEAN without a value source",
                with(&|i| i["aggregation"] = json!("MEAN")),
                "definition.value",
            ),
            (
                "COUNT with a value source",
                with(&|i| i["definition"]["value"] = json!({"source": "EVENT_VALUE"})),
                "definition.value",
            ),
            (
                "OCCURRENCE with a value source",
                with(&|i| {
                    i["metricType"] = json!("CONVERSION");
                    i["aggregation"] = json!("OCCURRENCE");
                    i["definition"]["value"] = json!({"source": "PROPERTY", "property": "amount"});
                }),
                "definition.value",
            ),
            (
                "PROPERTY source without a property",
                with(&|i| {
                    i["aggregation"] = json!("SUM");
                    i["definition"]["value"] = json!({"source": "PROPERTY"});
                }),
                "definition.value.property",
            ),
            (
                "PROPERTY source with an empty property",
                with(&|i| {
                    i["aggregation"] = json!("MEAN");
                    i["definition"]["value"] = json!({"source": "PROPERTY", "property": " "});
                }),
                "definition.value.property",
            ),
            (
                "empty event",
                with(&|i| i["definition"]["event"] = json!("")),
                "definition.event",
            ),
            (
                "201-char event",
                with(&|i| i["definition"]["event"] = json!("e".repeat(201))),
                "definition.event",
            ),
            (
                "21 filters",
                with(&|i| i["definition"]["filters"] = json!(twenty_one.clone())),
                "definition.filters",
            ),
            (
                "filter without a property",
                filter(json!({"property": "", "op": "EXISTS"})),
                "definition.filters[0].property",
            ),
            (
                "the index of the bad filter",
                with(&|i| {
                    i["definition"]["filters"] = json!([
                        {"property": "a", "op": "EXISTS"},
                        {"property": "b", "op": "EQ", "value": {"string": "x"}},
                        {"property": "c", "op": "GT", "value": {"string": "x"}}
                    ])
                }),
                "definition.filters[2].value",
            ),
            (
                "EQ without a value",
                filter(json!({"property": "p", "op": "EQ"})),
                "definition.filters[0].value",
            ),
            (
                "EQ with a list",
                filter(json!({"property": "p", "op": "EQ", "value": {"stringList": ["a"]}})),
                "definition.filters[0].value",
            ),
            (
                "NEQ with a number list",
                filter(json!({"property": "p", "op": "NEQ", "value": {"numberList": [1.0]}})),
                "definition.filters[0].value",
            ),
            (
                "IN with a single string",
                filter(json!({"property": "p", "op": "IN", "value": {"string": "a"}})),
                "definition.filters[0].value",
            ),
            (
                "IN with an empty string list",
                filter(json!({"property": "p", "op": "IN", "value": {"stringList": []}})),
                "definition.filters[0].value",
            ),
            (
                "IN with an empty number list",
                filter(json!({"property": "p", "op": "IN", "value": {"numberList": []}})),
                "definition.filters[0].value",
            ),
            (
                "IN without a value",
                filter(json!({"property": "p", "op": "IN"})),
                "definition.filters[0].value",
            ),
            (
                "NOT_IN with a number",
                filter(json!({"property": "p", "op": "NOT_IN", "value": {"number": 1.0}})),
                "definition.filters[0].value",
            ),
            (
                "NOT_IN with an empty list",
                filter(json!({"property": "p", "op": "NOT_IN", "value": {"stringList": []}})),
                "definition.filters[0].value",
            ),
            (
                "GT with a string",
                filter(json!({"property": "p", "op": "GT", "value": {"string": "10"}})),
                "definition.filters[0].value",
            ),
            (
                "GTE with a boolean",
                filter(json!({"property": "p", "op": "GTE", "value": {"boolean": true}})),
                "definition.filters[0].value",
            ),
            (
                "LT without a value",
                filter(json!({"property": "p", "op": "LT"})),
                "definition.filters[0].value",
            ),
            (
                "LTE with a number list",
                filter(json!({"property": "p", "op": "LTE", "value": {"numberList": [1.0]}})),
                "definition.filters[0].value",
            ),
            (
                "CONTAINS with a number",
                filter(json!({"property": "p", "op": "CONTAINS", "value": {"number": 1.0}})),
                "definition.filters[0].value",
            ),
            (
                "CONTAINS with an empty string",
                filter(json!({"property": "p", "op": "CONTAINS", "value": {"string": ""}})),
                "definition.filters[0].value",
            ),
            (
                "EXISTS with a value",
                filter(json!({"property": "p", "op": "EXISTS", "value": {"string": "x"}})),
                "definition.filters[0].value",
            ),
            (
                "NOT_EXISTS with a value",
                filter(json!({"property": "p", "op": "NOT_EXISTS", "value": {"boolean": false}})),
                "definition.filters[0].value",
            ),
            (
                "window starting before exposure",
                with(&|i| i["definition"]["window"] = json!({"startSeconds": -1})),
                "definition.window.startSeconds",
            ),
            (
                "window ending where it starts",
                with(&|i| {
                    i["definition"]["window"] = json!({"startSeconds": 60, "endSeconds": 60})
                }),
                "definition.window.endSeconds",
            ),
            (
                "window ending before it starts",
                with(&|i| {
                    i["definition"]["window"] = json!({"startSeconds": 60, "endSeconds": 30})
                }),
                "definition.window.endSeconds",
            ),
        ];
        for (case, input, expected_field) in cases {
            let body = create(&app, input).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{case}: {body}");
            assert_eq!(field(&body), expected_field, "{case}: {body}");
            assert!(body["data"].is_null(), "{case}: {body}");
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(
                !message.is_empty(),
                "{case}: a person needs a message: {body}"
            );
        }
        let (total, names) = library(&app, ENV, None).await;
        assert_eq!((total, names), (0, vec![]), "no refused metric was stored");
    }
);

db_test!(the_limits_themselves_are_accepted, |app| {
    app.world().await;
    let twenty: Vec<Value> = (0..20)
        .map(|i| json!({"property": format!("p{i}"), "op": "EXISTS"}))
        .collect();
    let mut input = metric_input(ENV, &"n".repeat(255));
    input["description"] = json!("d".repeat(10_000));
    input["definition"] = json!({
        "event": "e".repeat(200),
        "filters": twenty,
        "window": {"startSeconds": 0, "endSeconds": 1}
    });
    let body = create(&app, input).await;
    assert_eq!(code(&body), "OK", "{body}");
    let created = &body["data"]["createMetric"];
    assert_eq!(created["name"].as_str().map(str::len), Some(255));
    assert_eq!(
        created["definition"]["event"].as_str().map(str::len),
        Some(200)
    );
    assert_eq!(
        created["definition"]["filters"].as_array().map(Vec::len),
        Some(20)
    );
    assert_eq!(
        created["definition"]["window"],
        json!({"startSeconds": 0, "endSeconds": 1})
    );
});

db_test!(a_failed_create_metric_leaves_the_library_unchanged, |app| {
    app.world().await;
    app.metric(ENV, "Kept").await;
    let mut bad = metric_input(ENV, "Refused");
    bad["aggregation"] = json!("SUM");
    assert_eq!(code(&create(&app, bad).await), "BAD_USER_INPUT");
    assert_eq!(
        code(&create(&app, metric_input(ENV, "Kept")).await),
        "CONFLICT"
    );
    let mut long = metric_input(ENV, "Too many filters");
    long["definition"]["filters"] = json!((0..21)
        .map(|i| json!({"property": format!("p{i}"), "op": "EXISTS"}))
        .collect::<Vec<_>>());
    assert_eq!(code(&create(&app, long).await), "BAD_USER_INPUT");
    assert_eq!(library(&app, ENV, None).await, (1, vec!["Kept".into()]));
});
