//! What the health, recommendation and power tests share: experiments created with analysis
//! settings and started 10 days in the past, and event sets built arm by arm, each identity
//! exposed once at start + 1 h, converting at start + 2 h and, for CUPED, active two days before
//! its exposure (inside the default 14-day lookback).

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{json, Value};

use super::support::*;
use crate::clickhouse::Event;
use crate::helpers::*;

/// The fields these tests read: health, recommendations and the judged comparisons.
pub const DECISION_FIELDS: &str = "exposures { variant identities } excludedIdentities multipleExposureIdentities srm { chiSquare pValue mismatch } health { status checks { kind status value threshold message experimentMetricId } } recommendations { variant decision reasons } metrics { experimentMetric { id } metricId variants { variant n sum sumOfSquares mean } comparisons { variant verdict preExposurePValue absoluteDifference { estimate pValue } power { mde identitiesPerDay daysToTarget } } }";

/// An arm of `size` identities `{prefix}0..` exposed to `variant` of `feature` at start + 1 h.
/// The first `count` of them send each `converts` event at start + 2 h, and each `before` event
/// two days before their exposure.
pub struct Arm<'a> {
    pub variant: &'a str,
    pub prefix: &'a str,
    pub size: usize,
    pub converts: &'a [(&'a str, usize)],
    pub before: &'a [(&'a str, usize)],
}

impl Arm<'_> {
    pub fn events(&self, env: &str, feature: &str, start: DateTime<Utc>) -> Vec<Event> {
        let exposed = start + Duration::hours(1);
        let mut events = Vec::new();
        for i in 0..self.size {
            let id = format!("{}{i}", self.prefix);
            events.push(Event::exposure(
                env,
                EXPOSURE,
                feature,
                &id,
                self.variant,
                exposed,
            ));
            for &(event, count) in self.converts {
                if i < count {
                    events.push(Event::track(env, event, &id, start + Duration::hours(2)));
                }
            }
            for &(event, count) in self.before {
                if i < count {
                    events.push(Event::track(env, event, &id, exposed - Duration::days(2)));
                }
            }
        }
        events
    }
}

/// A plain arm: `size` identities, the first `count` of each event converting.
pub fn arm<'a>(
    variant: &'a str,
    prefix: &'a str,
    size: usize,
    converts: &'a [(&'a str, usize)],
) -> Arm<'a> {
    Arm {
        variant,
        prefix,
        size,
        converts,
        before: &[],
    }
}

/// `count` identities `{prefix}0..` exposed to control at start + 1 h and to treatment at
/// start + 3 h: multiple exposures.
pub fn exposed_twice(
    env: &str,
    feature: &str,
    start: DateTime<Utc>,
    prefix: &str,
    count: usize,
) -> Vec<Event> {
    (0..count)
        .flat_map(|i| {
            let id = format!("{prefix}{i}");
            [
                Event::exposure(
                    env,
                    EXPOSURE,
                    feature,
                    &id,
                    "control",
                    start + Duration::hours(1),
                ),
                Event::exposure(
                    env,
                    EXPOSURE,
                    feature,
                    &id,
                    "treatment",
                    start + Duration::hours(3),
                ),
            ]
        })
        .collect()
}

/// Creates an experiment on `feature` in `env` with these analysis settings; returns its id.
pub async fn create_with_analysis(
    app: &TestApp,
    env: &str,
    feature: &str,
    name: &str,
    analysis: Value,
) -> String {
    let input =
        json!({"environmentKey": env, "featureId": feature, "name": name, "analysis": analysis});
    let data = app
        .ok(
            users::ORG_ADMIN,
            CREATE_EXPERIMENT,
            json!({ "input": input }),
        )
        .await;
    data["createExperiment"]["id"]
        .as_str()
        .expect("experiment id")
        .to_owned()
}

/// Creates an experiment on `feature` in `env` with these analysis settings, starts it through the
/// API and moves its start 10 days back (whole seconds); returns its id and that start.
pub async fn experiment_with(
    app: &TestApp,
    env: &str,
    feature: &str,
    name: &str,
    analysis: Value,
) -> (String, DateTime<Utc>) {
    let id = create_with_analysis(app, env, feature, name, analysis).await;
    let body = app.lifecycle("startExperiment", &id).await;
    assert_eq!(code(&body), "OK", "startExperiment: {body}");
    let start = (Utc::now() - Duration::days(10)).trunc_subsecs(0);
    set_started_at(app, &id, start).await;
    (id, start)
}

/// A conversion metric (OCCURRENCE of `event`, UP is good) in `env`; returns its id.
pub async fn conversion(app: &TestApp, env: &str, name: &str, event: &str) -> String {
    metric(
        app,
        metric_of(env, name, "OCCURRENCE", json!({ "event": event })),
    )
    .await
}

/// The health, recommendations and metrics of an experiment; fails the test on any error.
pub async fn decisions(app: &TestApp, experiment: &str) -> Value {
    let body = results_as(app, users::ORG_ADMIN, experiment, DECISION_FIELDS).await;
    assert_eq!(code(&body), "OK", "results of {experiment}: {body:#}");
    body["data"]["experiment"]["results"].clone()
}

/// The health check of this kind (the only one, for every kind but PRE_EXPOSURE_BIAS).
pub fn check<'a>(results: &'a Value, kind: &str) -> &'a Value {
    let checks = results["health"]["checks"]
        .as_array()
        .expect("health checks");
    let mut of_kind = checks.iter().filter(|c| c["kind"] == kind);
    let found = of_kind
        .next()
        .unwrap_or_else(|| panic!("no {kind} check: {:#}", results["health"]));
    assert!(
        of_kind.next().is_none(),
        "several {kind} checks: {:#}",
        results["health"]
    );
    found
}

/// `(variant, decision, reasons)` per non-control variant, in the order returned.
pub fn recommendations(results: &Value) -> Vec<(String, String, Vec<String>)> {
    results["recommendations"]
        .as_array()
        .expect("recommendations")
        .iter()
        .map(|r| {
            let reasons = r["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .map(|s| s.as_str().expect("a reason").to_owned())
                .collect();
            (
                r["variant"].as_str().expect("variant").to_owned(),
                r["decision"].as_str().expect("decision").to_owned(),
                reasons,
            )
        })
        .collect()
}
