//! The model `previewMetric`'s tests hold it to: the event set, and the preview's numbers computed
//! from it by the rules `domain::preview` documents (each event once by its natural key; the last
//! `days` days up to now; an identity's value the SUM of its finite values with a value source,
//! else its COUNT of matching events; R-7 quantiles over identities with a value); and the
//! assertions comparing a preview with them.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::support::*;
use crate::clickhouse::Event;
use crate::helpers::*;

/// The event set, relative to `now`: generated identities with purchases over the last 20 days
/// (some older than a week), plus hand-made edge cases.
pub(super) fn events(now: DateTime<Utc>) -> Vec<Event> {
    let ago = |hours: i64| now - Duration::hours(hours);
    let purchase = |id: &str, at, value: &str, metadata: Value| {
        Event::track(ENV, "purchase", id, at)
            .value(value)
            .metadata(metadata)
    };
    let mut events = Vec::new();
    for i in 0..30_i64 {
        let id = format!("u{i}");
        let plan = ["pro", "team", "free"][(i % 3) as usize];
        for k in 0..(i % 4 + 1) {
            // Spread over 0–19 days ago: some inside a week, some not.
            let at = ago((i * 7 + k * 29) % 480 + 1);
            let amount = ((i * 7 + k * 3) % 13) as f64 + 0.25;
            events.push(purchase(
                &id,
                at,
                &format!("{}", amount * 2.0),
                json!({ "plan": plan, "amount": amount }),
            ));
        }
        if i % 5 == 0 {
            events.push(Event::track(ENV, "signup", &id, ago(i + 2)));
        }
    }
    events.extend([
        // An exact duplicate (at-least-once delivery): counted once.
        purchase("a", ago(30), "10", json!({ "plan": "pro", "amount": 10.0 })),
        purchase("a", ago(30), "10", json!({ "plan": "pro", "amount": 10.0 })),
        // Amount as numeric text counts; as other text it is present but not a number.
        purchase(
            "a",
            ago(50),
            "12.5",
            json!({ "plan": "pro", "amount": "12.5" }),
        ),
        purchase(
            "d",
            ago(20),
            "n/a",
            json!({ "plan": "pro", "amount": "lots" }),
        ),
        // No amount at all: matching, without a value, and not "not numeric".
        purchase("e", ago(40), "", json!({ "plan": "team" })),
        // Only signups: in the period, never matching.
        Event::track(ENV, "signup", "g", ago(10)),
        // Just outside a week, inside 30 days.
        purchase(
            "f",
            ago(7 * 24 + 5),
            "1000",
            json!({ "plan": "pro", "amount": 1000.0 }),
        ),
        // After now, another environment, older than 90 days: never read.
        purchase(
            "future",
            now + Duration::hours(5),
            "5",
            json!({ "plan": "pro", "amount": 5.0 }),
        ),
        Event::track("elsewhere", "purchase", "x", ago(3))
            .metadata(json!({ "plan": "pro", "amount": 7.0 })),
        purchase(
            "old",
            ago(91 * 24),
            "3",
            json!({ "plan": "pro", "amount": 3.0 }),
        ),
    ]);
    events
}

/// Where a definition reads each event's number in the model.
#[derive(Clone, Copy)]
pub(super) enum Source {
    None,
    EventValue,
    Property(&'static str),
}

/// The preview's numbers, by the documented rules, from the event list.
#[derive(Debug, PartialEq)]
pub(super) struct Expected {
    pub matching_events: u64,
    pub identities: u64,
    pub identities_in_period: u64,
    pub with_value: u64,
    pub quantiles: Option<[f64; 3]>,
    pub max: Option<f64>,
    pub not_numeric: u64,
}

/// A number as lift reads one: a JSON number, or a JSON string holding a number.
pub(super) fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// linear interpolation between the closest ranks of the sorted values.
pub(super) fn quantile(sorted: &[f64], level: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * level;
    let low = h.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    sorted[low] + (h - low as f64) * (sorted[high] - sorted[low])
}

pub(super) fn expected(
    events: &[Event],
    now: DateTime<Utc>,
    days: i64,
    name: &str,
    filter: impl Fn(&Value) -> bool,
    source: Source,
) -> Expected {
    let start = now - Duration::days(days);
    let mut seen = HashSet::new();
    let mut in_period = HashSet::new();
    // identity → (matching events, finite values)
    let mut identities: BTreeMap<&str, (u64, Vec<f64>)> = BTreeMap::new();
    let mut not_numeric = 0;
    for e in events {
        let key = (
            &e.identifier,
            &e.event,
            &e.feature_name,
            e.timestamp,
            &e.value,
            &e.metadata,
        );
        if e.environment_key != ENV || e.timestamp < start || e.timestamp > now || !seen.insert(key)
        {
            continue;
        }
        in_period.insert(e.identifier.as_str());
        let metadata: Value = serde_json::from_str(&e.metadata).expect("metadata");
        if e.event != name || !filter(&metadata) {
            continue;
        }
        let (count, values) = identities.entry(&e.identifier).or_default();
        *count += 1;
        let (present, value) = match source {
            Source::None => (false, None),
            Source::EventValue => (!e.value.is_empty(), e.value.parse::<f64>().ok()),
            Source::Property(p) => (metadata.get(p).is_some(), number(metadata.get(p))),
        };
        match value.filter(|v| v.is_finite()) {
            Some(v) => values.push(v),
            None if present => not_numeric += 1,
            None => {}
        }
    }
    let mut per_identity: Vec<f64> = identities
        .values()
        .filter_map(|(count, values)| match source {
            Source::None => Some(*count as f64),
            _ if values.is_empty() => None,
            _ => Some(values.iter().sum()),
        })
        .collect();
    per_identity.sort_by(f64::total_cmp);
    let any = !per_identity.is_empty();
    Expected {
        matching_events: identities.values().map(|(count, _)| count).sum(),
        identities: identities.len() as u64,
        identities_in_period: in_period.len() as u64,
        with_value: per_identity.len() as u64,
        quantiles: any.then(|| [0.5, 0.9, 0.99].map(|l| quantile(&per_identity, l))),
        max: per_identity.last().copied(),
        not_numeric,
    }
}

pub(super) fn optional(value: &Value) -> Option<f64> {
    value.as_f64()
}

pub(super) fn assert_matches(preview: &Value, expected: &Expected, label: &str) {
    let count = |key: &str| {
        preview[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {preview}"))
    };
    assert_eq!(
        count("matchingEvents"),
        expected.matching_events,
        "{label}: matchingEvents"
    );
    assert_eq!(
        count("identities"),
        expected.identities,
        "{label}: identities"
    );
    assert_eq!(
        count("identitiesInPeriod"),
        expected.identities_in_period,
        "{label}: identitiesInPeriod"
    );
    assert_close(
        number(Some(&preview["shareWithValue"])).expect("a share"),
        expected.with_value as f64 / expected.identities_in_period as f64,
        &format!("{label}: shareWithValue"),
    );
    let shown = ["p50", "p90", "p99"].map(|k| optional(&preview[k]));
    match expected.quantiles {
        Some(quantiles) => {
            for ((key, actual), q) in ["p50", "p90", "p99"].iter().zip(shown).zip(quantiles) {
                assert_close(actual.expect(key), q, &format!("{label}: {key}"));
            }
        }
        None => assert_eq!(shown, [None, None, None], "{label}: no quantiles"),
    }
    match expected.max {
        Some(max) => assert_close(optional(&preview["max"]).expect("max"), max, label),
        None => assert!(preview["max"].is_null(), "{label}: {preview}"),
    }
}

/// `(code, property)` of each warning.
pub(super) fn warnings(preview: &Value) -> Vec<(String, Option<String>)> {
    preview["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| {
            assert!(w["message"].as_str().is_some_and(|m| !m.is_empty()), "{w}");
            (
                w["code"].as_str().expect("code").to_owned(),
                w["property"].as_str().map(str::to_owned),
            )
        })
        .collect()
}
