//! "Ship or not", one recommendation per non-control variant, from the health of the experiment,
//! the verdicts of its primary and guardrail metrics and how small an effect the primaries can
//! detect yet. The first rule that applies decides, in this order:
//!
//! 1. CHECK_SETUP — health is UNHEALTHY (nothing else can be trusted), or no primary metric is
//!    attached (nothing says what success is);
//! 2. ROLL_BACK — a primary or guardrail metric is a LOSS;
//! 3. SHIP — every primary metric is a WIN (and, by 2, no guardrail loses);
//! 4. KEEP_RUNNING — a primary has NOT_ENOUGH_DATA, or its current minimum detectable effect is
//!    above the experiment's target (or unknown);
//! 5. NO_DETECTABLE_EFFECT — the primaries that do not win are inconclusive although they could
//!    detect the target effect.
//!
//! Secondary metrics never decide; they are context.

use serde::{Deserialize, Serialize};

use super::experiment::MetricRole;
use super::health::HealthStatus;
use crate::stats::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Ship,
    RollBack,
    KeepRunning,
    NoDetectableEffect,
    CheckSetup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub variant: String,
    pub decision: Decision,
    pub reasons: Vec<String>,
}

/// One attached metric's outcome for the variant being decided.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricOutcome {
    pub name: String,
    pub role: MetricRole,
    pub verdict: Verdict,
    /// The relative minimum detectable effect at 80 % power for the current sample; `None` when
    /// it cannot be computed (no data yet).
    pub mde: Option<f64>,
}

/// Decides for one variant.
pub fn recommend(
    variant: &str,
    health: HealthStatus,
    outcomes: &[MetricOutcome],
    target_mde: f64,
) -> Recommendation {
    let (decision, reasons) = decide(health, outcomes, target_mde);
    Recommendation {
        variant: variant.to_owned(),
        decision,
        reasons,
    }
}

fn decide(
    health: HealthStatus,
    outcomes: &[MetricOutcome],
    target: f64,
) -> (Decision, Vec<String>) {
    if health == HealthStatus::Unhealthy {
        return (
            Decision::CheckSetup,
            vec!["A health check failed: fix the setup before reading any metric.".to_owned()],
        );
    }
    let primaries: Vec<&MetricOutcome> = outcomes
        .iter()
        .filter(|o| o.role == MetricRole::Primary)
        .collect();
    if primaries.is_empty() {
        return (
            Decision::CheckSetup,
            vec!["No primary metric is attached: nothing says what success is.".to_owned()],
        );
    }
    let losses: Vec<String> = outcomes
        .iter()
        .filter(|o| o.role != MetricRole::Secondary && o.verdict == Verdict::Loss)
        .map(|o| format!("{} ({}) is a loss.", o.name, role_name(o.role)))
        .collect();
    if !losses.is_empty() {
        return (Decision::RollBack, losses);
    }
    if primaries.iter().all(|o| o.verdict == Verdict::Win) {
        let reasons = primaries
            .iter()
            .map(|o| format!("{} (primary) wins.", o.name))
            .chain(std::iter::once("No guardrail metric loses.".to_owned()))
            .collect();
        return (Decision::Ship, reasons);
    }
    let undecided: Vec<&&MetricOutcome> = primaries
        .iter()
        .filter(|o| o.verdict != Verdict::Win)
        .collect();
    let waiting: Vec<String> = undecided
        .iter()
        .filter_map(|o| match (o.verdict, o.mde) {
            (Verdict::NotEnoughData, _) => Some(format!(
                "{} (primary) does not have enough data yet.",
                o.name
            )),
            (_, None) => Some(format!(
                "{} (primary): its detectable effect cannot be computed yet.",
                o.name
            )),
            (_, Some(mde)) if mde > target => Some(format!(
                "{} (primary) can detect a {:.1}% change so far; the target is {:.1}%.",
                o.name,
                mde * 100.0,
                target * 100.0
            )),
            _ => None,
        })
        .collect();
    if !waiting.is_empty() {
        return (Decision::KeepRunning, waiting);
    }
    let reasons = undecided
        .iter()
        .map(|o| {
            format!(
                "{} (primary) is inconclusive although a {:.1}% change would be detected.",
                o.name,
                o.mde.unwrap_or(0.0) * 100.0
            )
        })
        .collect();
    (Decision::NoDetectableEffect, reasons)
}

fn role_name(role: MetricRole) -> &'static str {
    match role {
        MetricRole::Primary => "primary",
        MetricRole::Secondary => "secondary",
        MetricRole::Guardrail => "guardrail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(role: MetricRole, verdict: Verdict, mde: Option<f64>) -> MetricOutcome {
        MetricOutcome {
            name: format!("{role:?}"),
            role,
            verdict,
            mde,
        }
    }

    fn decision(health: HealthStatus, outcomes: &[MetricOutcome]) -> Decision {
        recommend("treatment", health, outcomes, 0.05).decision
    }

    use MetricRole::{Guardrail, Primary, Secondary};
    use Verdict::{Inconclusive, Loss, NotEnoughData, Win};

    #[test]
    fn each_rule_in_order() {
        let healthy = HealthStatus::Healthy;
        let win = outcome(Primary, Win, Some(0.01));
        assert_eq!(
            decision(HealthStatus::Unhealthy, std::slice::from_ref(&win)),
            Decision::CheckSetup
        );
        assert_eq!(
            decision(healthy, &[outcome(Secondary, Win, Some(0.01))]),
            Decision::CheckSetup
        );
        assert_eq!(
            decision(healthy, &[win.clone(), outcome(Guardrail, Loss, None)]),
            Decision::RollBack
        );
        assert_eq!(
            decision(healthy, &[outcome(Primary, Loss, Some(0.01))]),
            Decision::RollBack
        );
        assert_eq!(
            decision(healthy, &[win.clone(), outcome(Secondary, Loss, None)]),
            Decision::Ship
        );
        assert_eq!(
            decision(HealthStatus::Warning, std::slice::from_ref(&win)),
            Decision::Ship
        );
        assert_eq!(
            decision(
                healthy,
                &[win.clone(), outcome(Primary, NotEnoughData, None)]
            ),
            Decision::KeepRunning
        );
        assert_eq!(
            decision(healthy, &[outcome(Primary, Inconclusive, Some(0.2))]),
            Decision::KeepRunning
        );
        assert_eq!(
            decision(healthy, &[outcome(Primary, Inconclusive, Some(0.04))]),
            Decision::NoDetectableEffect
        );
    }

    #[test]
    fn reasons_name_the_metrics_that_decided() {
        let r = recommend(
            "treatment",
            HealthStatus::Healthy,
            &[outcome(Primary, Inconclusive, Some(0.2))],
            0.05,
        );
        assert_eq!(r.reasons.len(), 1);
        assert!(r.reasons[0].contains("20.0%"), "{:?}", r.reasons);
    }
}
