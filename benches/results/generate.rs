//! The benchmark's events: deterministic (one seeded stream), shaped like `src/demo_events.rs` but
//! with every case the results semantics must get right, so that the two queries being compared
//! agree on something non-trivial.
//!
//! Per identity (about 4.4 rows each):
//! - 97 %: one `$flag_exposure` of `new-checkout` within the first 10 days, `control`/`treatment`
//!   50/50; of those 1 % see the other variant 3 h later (multiple exposures, EXCLUDEd), 0.5 % have
//!   their exposure delivered twice, 0.5 % are in `holdout` (an unknown variant); 1 % are exposed
//!   one day before the experiment starts (their first exposure in range is then a later one, or
//!   none); 5 % are also exposed to another feature;
//! - 3 %: never exposed, but with pageviews and purchases (must not count anywhere);
//! - `pageview`s: 0–6 within a day of exposure (1 % delivered twice);
//! - `purchase`s: converting 10 % (control) / 12 % (treatment), 60 s to 5 days after exposure (so
//!   the 3-day window and the experiment end both cut some), amount in `value` (0.5 % `n/a`:
//!   skipped by SUM and MEAN), metadata `{"plan":"pro"|"basic"}`, sometimes `{}` or a numeric
//!   plan (which a string filter must not match); 2 % delivered twice; 5 % buy a second time;
//! - 10 % act one day before their exposure (must not count).
//!
//! The generator stops at exactly the requested number of rows (cutting the last identity short).

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use lift::warehouse::events::EventRow;

pub const ENVIRONMENT: &str = "bench";
pub const FEATURE: &str = "new-checkout";
pub const OTHER_FEATURE: &str = "dark-mode";
pub const EXPOSURE_EVENT: &str = "$flag_exposure";
const SEED: u64 = 20_261_124;
/// Bump when the generated data changes: databases loaded by another version are reloaded.
pub const GENERATOR_VERSION: u32 = 1;

/// Generates events identity by identity, handing them out in batches.
pub struct Generator {
    rng: StdRng,
    start: DateTime<Utc>,
    next_identity: u64,
    remaining: u64,
    pending: Vec<EventRow>,
}

impl Generator {
    /// Exactly `rows` events for an experiment starting at `start`.
    pub fn new(start: DateTime<Utc>, rows: u64) -> Self {
        Generator {
            rng: StdRng::seed_from_u64(SEED),
            start,
            next_identity: 0,
            remaining: rows,
            pending: Vec::new(),
        }
    }

    /// Up to `size` more rows; empty when done.
    pub fn next_batch(&mut self, size: usize) -> Vec<EventRow> {
        let mut batch = Vec::with_capacity(size.min(self.remaining as usize));
        while batch.len() < size && self.remaining > 0 {
            while self.pending.is_empty() {
                // An identity that was never exposed may have no events at all.
                self.identity();
                self.pending.reverse();
            }
            let row = self.pending.pop().expect("an identity has events");
            batch.push(row);
            self.remaining -= 1;
        }
        batch
    }

    /// Pushes one identity's events to `pending`.
    fn identity(&mut self) {
        let i = self.next_identity;
        self.next_identity += 1;
        let id = format!("user-{i:08}");
        let rng = &mut self.rng;
        let start = self.start;
        let out = &mut self.pending;
        let exposed = rng.random_bool(0.97);
        let mut variant = if rng.random_bool(0.5) {
            "control"
        } else {
            "treatment"
        };
        if rng.random_bool(0.005) {
            variant = "holdout";
        }
        let at = start + Duration::seconds(rng.random_range(0..10 * 86_400));
        if exposed {
            let exposure = row(EXPOSURE_EVENT, FEATURE, &id, at, variant, "{}");
            if rng.random_bool(0.01) {
                let early = at - Duration::days(rng.random_range(1..20));
                out.push(row(
                    EXPOSURE_EVENT,
                    FEATURE,
                    &id,
                    early.min(start - Duration::hours(1)),
                    "treatment",
                    "{}",
                ));
            }
            if rng.random_bool(0.005) {
                out.push(exposure.clone());
            }
            if rng.random_bool(0.01) {
                let other = if variant == "control" {
                    "treatment"
                } else {
                    "control"
                };
                out.push(row(
                    EXPOSURE_EVENT,
                    FEATURE,
                    &id,
                    at + Duration::hours(3),
                    other,
                    "{}",
                ));
            }
            if rng.random_bool(0.05) {
                let when = at - Duration::hours(5);
                out.push(row(EXPOSURE_EVENT, OTHER_FEATURE, &id, when, "on", "{}"));
            }
            out.push(exposure);
        }
        if rng.random_bool(0.10) {
            let before = at - Duration::days(1);
            out.push(row("pageview", "", &id, before, "", "{}"));
            out.push(row(
                "purchase",
                "",
                &id,
                before,
                "80",
                r#"{"plan":"basic"}"#,
            ));
        }
        for _ in 0..rng.random_range(0..=6) {
            let when = at + Duration::seconds(rng.random_range(1..86_400));
            let pageview = row("pageview", "", &id, when, "", "{}");
            if rng.random_bool(0.01) {
                out.push(pageview.clone());
            }
            out.push(pageview);
        }
        let converts = if variant == "treatment" { 0.12 } else { 0.10 };
        if rng.random_bool(converts) {
            let purchases = if rng.random_bool(0.05) { 2 } else { 1 };
            for _ in 0..purchases {
                let when = at + Duration::seconds(rng.random_range(60..5 * 86_400));
                let amount = if rng.random_bool(0.005) {
                    "n/a".to_owned()
                } else {
                    rng.random_range(20..120).to_string()
                };
                let metadata = match rng.random_range(0..100) {
                    0..=29 => r#"{"plan":"pro"}"#,
                    30..=94 => r#"{"plan":"basic"}"#,
                    95..=97 => "{}",
                    _ => r#"{"plan":1}"#,
                };
                let purchase = row("purchase", "", &id, when, &amount, metadata);
                if rng.random_bool(0.02) {
                    out.push(purchase.clone());
                }
                out.push(purchase);
            }
        }
    }
}

fn row(
    event: &str,
    feature: &str,
    identifier: &str,
    at: DateTime<Utc>,
    value: &str,
    metadata: &str,
) -> EventRow {
    EventRow {
        environment_key: ENVIRONMENT.to_owned(),
        event: event.to_owned(),
        feature_name: feature.to_owned(),
        identifier: identifier.to_owned(),
        timestamp: at,
        collected_at: at + Duration::seconds(2),
        value: value.to_owned(),
        metadata: metadata.to_owned(),
    }
}
