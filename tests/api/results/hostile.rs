//! Hostile metric definitions: event names, filter properties and values full of quotes,
//! backslashes, SQL and placeholder syntax (also in funnel steps, beside a cap) are data, never SQL. The metrics count exactly the
//! events that literally carry those strings, and the events table keeps every row.

use chrono::Duration;
use serde_json::{json, Map, Value};

use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

const EVIL_EVENT: &str = "'; DROP TABLE events; --";
const EVIL_PROPERTY: &str = "we'ird\\prop\" {p0:String}";
const EVIL_VALUE: &str = "va'l\"ue\\ {p1:String}'); DROP TABLE events; --";
const EVIL_AMOUNT: &str = "am'ount\\";

fn properties(value: &str, amount: f64) -> Value {
    let mut map = Map::new();
    map.insert(EVIL_PROPERTY.into(), json!(value));
    map.insert(EVIL_AMOUNT.into(), json!(amount));
    Value::Object(map)
}

db_test_with!(
    quotes_backslashes_sql_and_placeholders_in_definitions_are_plain_data,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        let connection = connect(&app, ENV, &warehouse).await;
        let (experiment, s) = started_experiment(&app, ENV, &world.feature, "Checkout", None).await;
        let h = |hours: i64| s + Duration::hours(hours);
        let evil = |id: &str, at, value: &str, amount: f64| {
            Event::track(ENV, EVIL_EVENT, id, at).metadata(properties(value, amount))
        };
        let events = vec![
            Event::exposure(ENV, EXPOSURE, FEATURE, "c1", "control", h(1)),
            Event::exposure(ENV, EXPOSURE, FEATURE, "c2", "control", h(1)),
            Event::exposure(ENV, EXPOSURE, FEATURE, "t1", "treatment", h(1)),
            evil("c1", h(2), EVIL_VALUE, 2.5),
            evil("c1", h(3), EVIL_VALUE, 2.5),
            evil("t1", h(2), EVIL_VALUE, 4.0),
            evil("t1", h(3), "harmless", 100.0),
            Event::track(ENV, "purchase", "t1", h(2)).metadata(json!({ "'": "fine" })),
        ];
        warehouse.insert(&events).await;
        let rows = warehouse.count().await;
        assert_eq!(rows, events.len() as u64);

        let definitions = [
            // The event and an EQ filter, both hostile: c1 2, c2 0 | t1 1.
            (
                "COUNT",
                json!({ "event": EVIL_EVENT, "filters": [
                    { "property": EVIL_PROPERTY, "op": "EQ", "value": { "string": EVIL_VALUE } }
                ] }),
                [(2, 2.0, 4.0), (1, 1.0, 1.0)],
            ),
            // A hostile value property and IN list: c1 2.5+2.5 = 5, c2 0 | t1 4.
            (
                "SUM",
                json!({ "event": EVIL_EVENT,
                        "value": { "source": "PROPERTY", "property": EVIL_AMOUNT },
                        "filters": [{ "property": EVIL_PROPERTY, "op": "IN",
                                      "value": { "stringList": [EVIL_VALUE, "x'", "\\"] } }] }),
                [(2, 5.0, 25.0), (1, 4.0, 16.0)],
            ),
            // CONTAINS with SQL in it: as the EQ filter.
            (
                "COUNT",
                json!({ "event": EVIL_EVENT, "filters": [
                    { "property": EVIL_PROPERTY, "op": "CONTAINS", "value": { "string": "'); DROP TABLE" } }
                ] }),
                [(2, 2.0, 4.0), (1, 1.0, 1.0)],
            ),
            // A placeholder as the event name: nobody sent it.
            (
                "OCCURRENCE",
                json!({ "event": "{p0:String}" }),
                [(2, 0.0, 0.0), (1, 0.0, 0.0)],
            ),
            // A backslash property nobody has; a quote property not in a list of quotes: t1's purchase.
            (
                "COUNT",
                json!({ "event": "purchase", "filters": [
                    { "property": "\\", "op": "NOT_EXISTS" },
                    { "property": "'", "op": "NOT_IN", "value": { "stringList": ["'", "\\'", "{p2:String}"] } }
                ] }),
                [(2, 0.0, 0.0), (1, 1.0, 1.0)],
            ),
            // A funnel of hostile steps and filters: t1's EVIL_VALUE event at h2, then its
            // "harmless" one at h3; c1 never reaches step 2.
            (
                "OCCURRENCE",
                json!({ "steps": [
                    { "event": EVIL_EVENT, "filters": [
                        { "property": EVIL_PROPERTY, "op": "EQ", "value": { "string": EVIL_VALUE } }
                    ] },
                    { "event": EVIL_EVENT, "filters": [
                        { "property": EVIL_PROPERTY, "op": "CONTAINS", "value": { "string": "harm" } }
                    ] }
                ] }),
                [(2, 0.0, 0.0), (1, 1.0, 1.0)],
            ),
            // The hostile SUM capped at 3: c1 5 → 3 | t1 4 + 100 → 3.
            (
                "SUM",
                json!({ "event": EVIL_EVENT,
                        "value": { "source": "PROPERTY", "property": EVIL_AMOUNT },
                        "capping": { "kind": "ABSOLUTE", "upper": 3.0 } }),
                [(2, 3.0, 9.0), (1, 3.0, 9.0)],
            ),
        ];
        let mut metrics = Vec::new();
        for (i, (aggregation, definition, expected)) in definitions.iter().enumerate() {
            let id = metric(
                &app,
                metric_of(
                    ENV,
                    &format!("Hostile {i} '; --"),
                    aggregation,
                    definition.clone(),
                ),
            )
            .await;
            attach_as(&app, &experiment, &id, "INCREASE", "PRIMARY").await;
            metrics.push((id, *expected));
        }

        let r = results(&app, &experiment).await;
        assert_eq!(
            exposures(&r),
            [("control".to_owned(), 2), ("treatment".to_owned(), 1)]
        );
        for (i, (id, [(cn, cs, cq), (tn, ts, tq)])) in metrics.iter().enumerate() {
            assert_stats(
                &r,
                id,
                &format!("hostile metric {i}"),
                &[("control", *cn, *cs, *cq), ("treatment", *tn, *ts, *tq)],
            );
        }

        // A hostile exposure event in the probe is data as well: it counts the four events that
        // literally carry that name.
        let body = app
            .gql(
                users::ORG_ADMIN,
                "mutation($id: ID!, $event: String) { testWarehouseConnection(id: $id, exposureEvent: $event) { reachable exposureEvents } }",
                json!({ "id": connection, "event": EVIL_EVENT }),
            )
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        assert_eq!(
            body["data"]["testWarehouseConnection"]["reachable"], true,
            "{body}"
        );
        assert_eq!(
            body["data"]["testWarehouseConnection"]["exposureEvents"], 4,
            "{body}"
        );

        assert_eq!(
            warehouse.count().await,
            rows,
            "the events table keeps every row"
        );
    }
);
