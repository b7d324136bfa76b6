//! A realistic synthetic event set for the demo experiment, so results are interesting out of the
//! box. Deterministic (seeded), generated in batches so memory stays flat.
//!
//! What it contains, per identity (120,000 of them, split 50/50 by the feature's weights):
//! - one `$flag_exposure` event for the feature `new-checkout` within the experiment's first
//!   10 days (purchases follow within 3 days, so every event lies before "now"); 1 % also see the
//!   other variant later (multiple exposures), 0.5 % have their exposure delivered twice (an
//!   at-least-once duplicate);
//! - `purchase` events (the primary metric, with a numeric `value` and `{"plan": …}` metadata):
//!   converting with 10 % in control and 12 % in treatment — a real effect;
//! - `pageview` events: on average 3 per identity in both arms — no effect;
//! - 10 % of identities act one day before their exposure (these events must not count), and 2 %
//!   of purchases are delivered twice.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::domain::DomainError;
use crate::warehouse::events::EventRow;
use crate::warehouse::Warehouse;

pub const DEMO_IDENTITIES: u32 = 120_000;
pub const DEMO_FEATURE: &str = "new-checkout";
pub const EXPOSURE_EVENT: &str = "$flag_exposure";
const BATCH_IDENTITIES: u32 = 20_000;
const SEED: u64 = 20_261_124;

/// Conversion probability per variant: the effect the demo shows.
fn purchase_probability(variant: &str) -> f64 {
    if variant == "treatment" {
        0.12
    } else {
        0.10
    }
}

/// The events of identities `from..to`, for an experiment that started at `start`.
pub fn generate(environment_key: &str, start: DateTime<Utc>, from: u32, to: u32) -> Vec<EventRow> {
    let mut rng = StdRng::seed_from_u64(SEED ^ u64::from(from));
    let mut rows = Vec::with_capacity(((to - from) * 6) as usize);
    let event =
        |name: &str, identifier: &str, at: DateTime<Utc>, value: String, metadata: &str| EventRow {
            environment_key: environment_key.to_owned(),
            event: name.to_owned(),
            feature_name: String::new(),
            identifier: identifier.to_owned(),
            timestamp: at,
            collected_at: at + Duration::seconds(2),
            value,
            metadata: metadata.to_owned(),
        };
    for i in from..to {
        let identifier = format!("user-{i:06}");
        let variant = if rng.random_bool(0.5) {
            "control"
        } else {
            "treatment"
        };
        let exposed_at = start + Duration::seconds(rng.random_range(0..10 * 86_400));
        let exposure = EventRow {
            feature_name: DEMO_FEATURE.to_owned(),
            ..event(
                EXPOSURE_EVENT,
                &identifier,
                exposed_at,
                variant.to_owned(),
                "{}",
            )
        };
        if rng.random_bool(0.005) {
            rows.push(exposure.clone());
        }
        if rng.random_bool(0.01) {
            let other = if variant == "control" {
                "treatment"
            } else {
                "control"
            };
            rows.push(EventRow {
                timestamp: exposed_at + Duration::hours(3),
                value: other.to_owned(),
                ..exposure.clone()
            });
        }
        rows.push(exposure);

        if rng.random_bool(0.10) {
            let before = exposed_at - Duration::days(1);
            rows.push(event("pageview", &identifier, before, String::new(), "{}"));
            rows.push(event(
                "purchase",
                &identifier,
                before,
                "80".into(),
                r#"{"plan":"basic"}"#,
            ));
        }
        let pageviews = rng.random_range(0..=6);
        for _ in 0..pageviews {
            let at = exposed_at + Duration::seconds(rng.random_range(1..86_400));
            rows.push(event("pageview", &identifier, at, String::new(), "{}"));
        }
        if rng.random_bool(purchase_probability(variant)) {
            let at = exposed_at + Duration::seconds(rng.random_range(60..3 * 86_400));
            let amount = rng.random_range(20..120).to_string();
            let plan = if rng.random_bool(0.3) { "pro" } else { "basic" };
            let purchase = event(
                "purchase",
                &identifier,
                at,
                amount,
                &format!(r#"{{"plan":"{plan}"}}"#),
            );
            if rng.random_bool(0.02) {
                rows.push(purchase.clone());
            }
            rows.push(purchase);
        }
    }
    rows
}

/// The demo's batches of identities.
fn batches() -> impl Iterator<Item = (u32, u32)> {
    (0..DEMO_IDENTITIES)
        .step_by(BATCH_IDENTITIES as usize)
        .map(|from| (from, (from + BATCH_IDENTITIES).min(DEMO_IDENTITIES)))
}

/// Loads the demo events unless they are already there. Returns how many rows were written (0
/// when the data set is complete). A partial load (an earlier run failed half-way) is an error
/// that says how to start over, rather than a silently skewed demo.
pub async fn load(
    warehouse: &Warehouse,
    environment_key: &str,
    start: DateTime<Utc>,
) -> Result<u64, DomainError> {
    warehouse.init_events_table().await?;
    let present = warehouse
        .count_exposures(environment_key, EXPOSURE_EVENT)
        .await?;
    if present > 0 {
        // The table lift creates keeps one row per event once its parts merge, so a complete
        // load holds between the distinct exposure events and every row delivered; a load that
        // stopped half-way lacks whole batches, far more than the 0.5 % delivered twice.
        let (mut expected, mut distinct) = (0u64, 0u64);
        for (from, to) in batches() {
            let rows = generate(environment_key, start, from, to);
            let exposures: Vec<_> = rows.iter().filter(|r| r.event == EXPOSURE_EVENT).collect();
            expected += exposures.len() as u64;
            let keys: std::collections::HashSet<_> = exposures
                .iter()
                .map(|r| (&r.identifier, r.timestamp, &r.value, &r.feature_name))
                .collect();
            distinct += keys.len() as u64;
        }
        if (distinct..=expected).contains(&present) {
            return Ok(0);
        }
        return Err(DomainError::validation(
            "demo",
            format!(
                "the events table holds {present} of the demo's {expected} exposure events (an earlier load stopped half-way): delete the rows of environment {environment_key:?} and run `lift demo` again"
            ),
        ));
    }
    let mut written = 0;
    for (from, to) in batches() {
        let rows = generate(environment_key, start, from, to);
        warehouse.insert_events(&rows).await?;
        written += rows.len() as u64;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_has_every_kind_of_event() {
        let start = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let a = generate("demo", start, 0, 2_000);
        let b = generate("demo", start, 0, 2_000);
        assert_eq!(a.len(), b.len());
        assert_eq!(a[10].identifier, b[10].identifier);
        for name in [EXPOSURE_EVENT, "pageview", "purchase"] {
            assert!(a.iter().any(|r| r.event == name), "{name}");
        }
        let exposures = a.iter().filter(|r| r.event == EXPOSURE_EVENT).count();
        assert!(exposures > 2_000, "duplicates and second exposures exist");
        assert!(a
            .iter()
            .any(|r| r.event == "purchase" && r.timestamp < start));
    }
}
