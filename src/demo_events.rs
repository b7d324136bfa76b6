//! A realistic synthetic event set for the demo experiment, so results are interesting out of the
//! box. Deterministic (seeded), generated in batches so memory stays flat.
//!
//! Each identity (120,000 of them, split 50/50 by the feature's weights) has habits that drive
//! its behaviour both before and after its exposure, as real users do: that is what lets CUPED
//! (on by default, with a 14-day lookback) explain part of the noise away.
//! - How much it browses: an engagement level, exponential with mean 1. Page views in the 13
//!   days before exposure and in the 3 days after are each Poisson with mean 3 × engagement, so
//!   the pre-period count predicts the later one (correlation λ/(1+λ) = 0.75 at λ = 3).
//! - Whether it is a returning buyer (8 %): 85 % of them bought in the 13 days before exposure
//!   (2 % of the others did), and they buy again far more often (70 % against 5 % in control).
//! - Which plan it buys (pro for 30 %), and keeps buying it 90 % of the time.
//!
//! CUPED removes about ρ² of a difference's variance (ρ: the pre/post correlation): 0.5625 for
//! page views; for purchase conversion the two 0/1 outcomes correlate only through the returning
//! buyers, ρ = 0.08 · 0.92 · (0.85 − 0.02) · (0.70 − 0.05) / (σ_pre σ_post) ≈ 0.47, so ≈ 0.22;
//! less for revenue, whose amounts vary. The loaded demo reports 0.563, 0.220 and 0.158.
//!
//! What the experiment changes: the one-page checkout raises the chance to buy (returning buyers
//! 70 % → 78 %, others 5 % → 6.6 %: about 10.2 % → 12.3 % overall) and nothing else, so page views
//! show no effect. Events, per identity:
//! - one `$flag_exposure` event for the feature `new-checkout` within the experiment's first
//!   10 days (later events follow within 3 days, so every event lies before "now"); 0.5 % also
//!   see the other variant later (multiple exposures, below the 1 % the health check warns at),
//!   0.5 % have their exposure delivered twice (an at-least-once duplicate);
//! - `pageview` and `purchase` events (with a numeric `value` and `{"plan": …}` metadata) before
//!   the exposure (these must not count in the metrics, only in CUPED's covariate) and after it;
//!   2 % of purchases after exposure are delivered twice.
//!
//! Purchase values do not depend on the variant, so the average order value shows no effect:
//! the demo has it twice, as a MEAN metric (each buyer's mean, averaged over buyers) and as a
//! RATIO (revenue over purchases, pooled over buyers: the honest order value, which weighs a
//! buyer by their purchases and is compared with the delta method; CUPED falls back for it).

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

/// Days before its exposure in which an identity's earlier activity falls: inside CUPED's default
/// 14-day lookback, so all of it is the covariate.
const PRE_PERIOD_DAYS: i64 = 13;
/// Mean page views per identity of average engagement, before exposure and after it alike.
const PAGEVIEWS_PER_PERIOD: f64 = 3.0;
/// Engagement is capped so that a rare extreme draw cannot dominate the demo (or the sampler).
const MAX_ENGAGEMENT: f64 = 8.0;
const RETURNING_BUYERS: f64 = 0.08;
const PRO_PLAN: f64 = 0.3;
const SAME_PLAN: f64 = 0.9;

/// What an identity tends to do, whatever the variant: the link between its activity before
/// exposure and after it.
struct Habits {
    engagement: f64,
    returning_buyer: bool,
    prefers_pro: bool,
}

impl Habits {
    fn draw(rng: &mut StdRng) -> Habits {
        // Inverse transform of a uniform in (0, 1]: exponential with mean 1.
        let u: f64 = 1.0 - rng.random::<f64>();
        Habits {
            engagement: (-u.ln()).min(MAX_ENGAGEMENT),
            returning_buyer: rng.random_bool(RETURNING_BUYERS),
            prefers_pro: rng.random_bool(PRO_PLAN),
        }
    }

    /// Probability of buying in the pre-period.
    fn bought_before(&self) -> f64 {
        if self.returning_buyer {
            0.85
        } else {
            0.02
        }
    }

    /// Probability of buying after exposure: the effect the demo shows.
    fn buys_after(&self, variant: &str) -> f64 {
        match (self.returning_buyer, variant == "treatment") {
            (true, false) => 0.70,
            (true, true) => 0.78,
            (false, false) => 0.05,
            (false, true) => 0.066,
        }
    }

    fn plan(&self, rng: &mut StdRng) -> &'static str {
        if rng.random_bool(SAME_PLAN) == self.prefers_pro {
            "pro"
        } else {
            "basic"
        }
    }
}

/// A Poisson draw by Knuth's multiplication method: fine for the small means used here (at most
/// `PAGEVIEWS_PER_PERIOD × MAX_ENGAGEMENT`, so e^−mean stays far from underflow).
fn poisson(rng: &mut StdRng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut product = 1.0;
    let mut count = 0;
    loop {
        product *= rng.random::<f64>();
        if product <= limit {
            return count;
        }
        count += 1;
    }
}

/// The events of identities `from..to`, for an experiment that started at `start`.
pub fn generate(environment_key: &str, start: DateTime<Utc>, from: u32, to: u32) -> Vec<EventRow> {
    let mut rng = StdRng::seed_from_u64(SEED ^ u64::from(from));
    let mut rows = Vec::with_capacity(((to - from) * 8) as usize);
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
    let purchase = |rng: &mut StdRng, habits: &Habits, identifier: &str, at| {
        let amount = rng.random_range(20..120).to_string();
        let plan = habits.plan(rng);
        event(
            "purchase",
            identifier,
            at,
            amount,
            &format!(r#"{{"plan":"{plan}"}}"#),
        )
    };
    for i in from..to {
        let identifier = format!("user-{i:06}");
        let habits = Habits::draw(&mut rng);
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
        if rng.random_bool(0.005) {
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

        // Before exposure: at least a minute before it, at most PRE_PERIOD_DAYS.
        let before = |rng: &mut StdRng| {
            exposed_at - Duration::seconds(rng.random_range(60..PRE_PERIOD_DAYS * 86_400))
        };
        let mean_pageviews = PAGEVIEWS_PER_PERIOD * habits.engagement;
        for _ in 0..poisson(&mut rng, mean_pageviews) {
            let at = before(&mut rng);
            rows.push(event("pageview", &identifier, at, String::new(), "{}"));
        }
        if rng.random_bool(habits.bought_before()) {
            let at = before(&mut rng);
            rows.push(purchase(&mut rng, &habits, &identifier, at));
        }

        // After exposure, within 3 days.
        for _ in 0..poisson(&mut rng, mean_pageviews) {
            let at = exposed_at + Duration::seconds(rng.random_range(1..3 * 86_400));
            rows.push(event("pageview", &identifier, at, String::new(), "{}"));
        }
        if rng.random_bool(habits.buys_after(variant)) {
            let at = exposed_at + Duration::seconds(rng.random_range(60..3 * 86_400));
            let bought = purchase(&mut rng, &habits, &identifier, at);
            if rng.random_bool(0.02) {
                rows.push(bought.clone());
            }
            rows.push(bought);
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
                "the events table holds {present} of the demo's {expected} exposure events (an earlier load stopped half-way, or an older lift loaded a different demo): delete the rows of environment {environment_key:?} and run `lift demo` again"
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
    use std::collections::HashMap;

    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .expect("date")
            .with_timezone(&Utc)
    }

    #[test]
    fn generation_is_deterministic_and_has_every_kind_of_event() {
        let a = generate("demo", start(), 0, 2_000);
        let b = generate("demo", start(), 0, 2_000);
        assert_eq!(a.len(), b.len());
        assert_eq!(a[10].identifier, b[10].identifier);
        assert_eq!(a[10].timestamp, b[10].timestamp);
        for name in [EXPOSURE_EVENT, "pageview", "purchase"] {
            assert!(a.iter().any(|r| r.event == name), "{name}");
        }
        let exposures = a.iter().filter(|r| r.event == EXPOSURE_EVENT).count();
        assert!(exposures > 2_000, "duplicates and second exposures exist");
        assert!(a
            .iter()
            .any(|r| r.event == "purchase" && r.timestamp < start()));
    }

    /// Per identity: (first exposure, [pre, post] page views, [pre, post] bought).
    type Activity = (DateTime<Utc>, [f64; 2], [f64; 2]);

    fn activity(rows: &[EventRow]) -> HashMap<&str, Activity> {
        let mut by_identity: HashMap<&str, Activity> = HashMap::new();
        for row in rows.iter().filter(|r| r.event == EXPOSURE_EVENT) {
            let entry =
                by_identity
                    .entry(&row.identifier)
                    .or_insert((row.timestamp, [0.0; 2], [0.0; 2]));
            entry.0 = entry.0.min(row.timestamp);
        }
        for row in rows.iter().filter(|r| r.event != EXPOSURE_EVENT) {
            let entry = by_identity
                .get_mut(row.identifier.as_str())
                .expect("exposed");
            let period = usize::from(row.timestamp >= entry.0);
            if row.event == "pageview" {
                entry.1[period] += 1.0;
            } else {
                entry.2[period] = 1.0;
            }
        }
        by_identity
    }

    fn correlation(pairs: &[[f64; 2]]) -> f64 {
        let n = pairs.len() as f64;
        let mean = |i: usize| pairs.iter().map(|p| p[i]).sum::<f64>() / n;
        let (mx, my) = (mean(0), mean(1));
        let moment = |f: &dyn Fn(&[f64; 2]) -> f64| pairs.iter().map(f).sum::<f64>() / n;
        let cov = moment(&|p| (p[0] - mx) * (p[1] - my));
        let vx = moment(&|p| (p[0] - mx).powi(2));
        let vy = moment(&|p| (p[1] - my).powi(2));
        cov / (vx * vy).sqrt()
    }

    /// CUPED can only narrow the demo's intervals if what an identity did before its exposure
    /// predicts what it does after: page views by λ/(1+λ) = 0.75, purchases through the
    /// returning buyers (about 0.47 for the two 0/1 outcomes, from the shares in `Habits`).
    #[test]
    fn activity_before_exposure_predicts_activity_after_it_and_lies_in_the_lookback() {
        let rows = generate("demo", start(), 0, BATCH_IDENTITIES);
        let by_identity = activity(&rows);
        let first_exposure: HashMap<&str, DateTime<Utc>> =
            by_identity.iter().map(|(id, a)| (*id, a.0)).collect();
        for row in rows.iter().filter(|r| r.event != EXPOSURE_EVENT) {
            let exposed = first_exposure[row.identifier.as_str()];
            assert!(row.timestamp != exposed, "{row:?}");
            assert!(
                row.timestamp > exposed - Duration::days(PRE_PERIOD_DAYS),
                "inside the 14-day lookback: {row:?}"
            );
        }
        let pageviews: Vec<[f64; 2]> = by_identity.values().map(|a| a.1).collect();
        let purchases: Vec<[f64; 2]> = by_identity.values().map(|a| a.2).collect();
        let (pv, buy) = (correlation(&pageviews), correlation(&purchases));
        assert!((0.70..0.80).contains(&pv), "page views: {pv}");
        assert!((0.40..0.55).contains(&buy), "purchases: {buy}");
        let share_active_before =
            pageviews.iter().filter(|p| p[0] > 0.0).count() as f64 / pageviews.len() as f64;
        assert!(share_active_before > 0.5, "{share_active_before}");
    }

    #[test]
    fn poisson_draws_have_the_asked_mean() {
        let mut rng = StdRng::seed_from_u64(7);
        let draws = 200_000;
        let mean = (0..draws)
            .map(|_| f64::from(poisson(&mut rng, 3.0)))
            .sum::<f64>()
            / f64::from(draws);
        // The standard error of the mean is sqrt(3 / 200000) ≈ 0.004.
        assert!((mean - 3.0).abs() < 0.02, "{mean}");
    }
}
