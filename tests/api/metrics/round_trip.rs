//! A valid metric of every kind, with every filter operator, comes back from `createMetric` and
//! `metric(id)` exactly as it was defined.

use super::*;

/// The GraphQL output of a filter value: exactly one field set, the others null.
fn filter_value(kind: &str, value: Value) -> Value {
    let mut out = json!({
        "string": null, "number": null, "boolean": null, "stringList": null, "numberList": null
    });
    out[kind] = value;
    out
}

db_test!(
    a_valid_metric_of_each_kind_round_trips_through_create_and_read,
    |app| {
        app.world().await;
        let every_filter = json!([
            {"property": "country", "op": "EQ", "value": {"string": "NL"}},
            {"property": "items", "op": "NEQ", "value": {"number": 3.5}},
            {"property": "logged_in", "op": "EQ", "value": {"boolean": true}},
            {"property": "plan", "op": "IN", "value": {"stringList": ["pro", "team"]}},
            {"property": "tier", "op": "NOT_IN", "value": {"numberList": [1.0, 2.5]}},
            {"property": "price", "op": "GT", "value": {"number": 10.0}},
            {"property": "price", "op": "GTE", "value": {"number": 10.5}},
            {"property": "price", "op": "LT", "value": {"number": 100.0}},
            {"property": "price", "op": "LTE", "value": {"number": 99.5}},
            {"property": "path", "op": "CONTAINS", "value": {"string": "/checkout"}},
            {"property": "coupon", "op": "EXISTS"},
            {"property": "referrer", "op": "NOT_EXISTS"}
        ]);
        let every_filter_out = json!([
            {"property": "country", "op": "EQ", "value": filter_value("string", json!("NL"))},
            {"property": "items", "op": "NEQ", "value": filter_value("number", json!(3.5))},
            {"property": "logged_in", "op": "EQ", "value": filter_value("boolean", json!(true))},
            {"property": "plan", "op": "IN", "value": filter_value("stringList", json!(["pro", "team"]))},
            {"property": "tier", "op": "NOT_IN", "value": filter_value("numberList", json!([1.0, 2.5]))},
            {"property": "price", "op": "GT", "value": filter_value("number", json!(10.0))},
            {"property": "price", "op": "GTE", "value": filter_value("number", json!(10.5))},
            {"property": "price", "op": "LT", "value": filter_value("number", json!(100.0))},
            {"property": "price", "op": "LTE", "value": filter_value("number", json!(99.5))},
            {"property": "path", "op": "CONTAINS", "value": filter_value("string", json!("/checkout"))},
            {"property": "coupon", "op": "EXISTS", "value": null},
            {"property": "referrer", "op": "NOT_EXISTS", "value": null}
        ]);
        // (input, the metric as createMetric and metric(id) must return it, without its id)
        let cases = vec![
            (
                json!({
                    "environmentKey": ENV, "name": "Page views", "description": "Every filter kind",
                    "metricType": "NUMERIC", "aggregation": "COUNT", "direction": "UP",
                    "definition": {"event": "page_view", "filters": every_filter,
                                   "window": {"startSeconds": 0, "endSeconds": 86400}}
                }),
                json!({
                    "name": "Page views", "description": "Every filter kind",
                    "metricType": "NUMERIC", "aggregation": "COUNT", "direction": "UP",
                    "definition": {"event": "page_view", "filters": every_filter_out, "value": null,
                                   "window": {"startSeconds": 0, "endSeconds": 86400}}
                }),
            ),
            (
                json!({
                    "environmentKey": ENV, "name": "Revenue",
                    "metricType": "NUMERIC", "aggregation": "SUM", "direction": "UP",
                    "definition": {"event": "purchase", "value": {"source": "EVENT_VALUE"},
                                   "window": {"startSeconds": 3600, "endSeconds": null}}
                }),
                json!({
                    "name": "Revenue", "description": "",
                    "metricType": "NUMERIC", "aggregation": "SUM", "direction": "UP",
                    "definition": {"event": "purchase", "filters": [],
                                   "value": {"source": "EVENT_VALUE", "property": null},
                                   "window": {"startSeconds": 3600, "endSeconds": null}}
                }),
            ),
            (
                json!({
                    "environmentKey": ENV, "name": "Basket size", "description": "Mean basket",
                    "metricType": "NUMERIC", "aggregation": "MEAN", "direction": "INFORMATIONAL",
                    "definition": {"event": "purchase",
                                   "value": {"source": "PROPERTY", "property": "basket_value"}}
                }),
                json!({
                    "name": "Basket size", "description": "Mean basket",
                    "metricType": "NUMERIC", "aggregation": "MEAN", "direction": "INFORMATIONAL",
                    "definition": {"event": "purchase", "filters": [],
                                   "value": {"source": "PROPERTY", "property": "basket_value"},
                                   "window": null}
                }),
            ),
            (
                json!({
                    "environmentKey": ENV, "name": "Churn",
                    "metricType": "CONVERSION", "aggregation": "OCCURRENCE", "direction": "DOWN",
                    "definition": {"event": "cancel_subscription",
                                   "filters": [{"property": "reason", "op": "NEQ", "value": {"string": "moved"}}]}
                }),
                json!({
                    "name": "Churn", "description": "",
                    "metricType": "CONVERSION", "aggregation": "OCCURRENCE", "direction": "DOWN",
                    "definition": {"event": "cancel_subscription",
                                   "filters": [{"property": "reason", "op": "NEQ",
                                                "value": filter_value("string", json!("moved"))}],
                                   "value": null, "window": null}
                }),
            ),
        ];
        for (input, expected) in cases {
            let created = app
                .ok(users::ORG_ADMIN, CREATE_METRIC, json!({ "input": input }))
                .await["createMetric"]
                .clone();
            let id = created["id"].as_str().expect("id").to_owned();
            let mut want = expected.clone();
            want["id"] = json!(id);
            assert_eq!(created, want, "createMetric result");

            let read = app.ok(users::ORG_ADMIN, METRIC, json!({"id": id})).await["metric"].clone();
            for (key, value) in want.as_object().expect("object") {
                assert_eq!(&read[key], value, "metric(id).{key} of {id}");
            }
            assert_eq!(read["deletedAt"], Value::Null);
            assert_eq!(read["environment"]["key"], ENV);
            assert_eq!(read["attachments"], json!([]));
        }
        let (total, names) = library(&app, ENV, None).await;
        assert_eq!(total, 4);
        assert_eq!(names, ["Churn", "Basket size", "Revenue", "Page views"]);
    }
);
