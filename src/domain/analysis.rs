//! How an experiment's results are analysed: the test engine, its significance level, sequential
//! testing, CUPED, the multiple-testing correction, the Bayesian prior, the data minimums and the
//! effect the team wants to be able to detect.
//!
//! Settings are resolved when an experiment is created (the server's defaults for what the input
//! leaves out) and stored as versioned JSON (`{"version": 1, …}`), so a later change of a server
//! default does not move a running experiment's α. Experiments stored before settings existed have
//! none ([`StoredAnalysis::ServerDefaults`]) and read the server's defaults until their first change.
//!
//! Engine, α, sequential testing and the correction decide what counts as significant: they are
//! chosen before anyone sees data, so they are locked once the experiment has started.

use serde::{Deserialize, Serialize};

use super::error::{DomainError, DomainResult};
use super::experiment::ExperimentStatus;
use super::string_enum::string_enum;

pub const ANALYSIS_VERSION: u32 = 1;
pub const DEFAULT_SEQUENTIAL_TUNING: u32 = 5_000;
pub const DEFAULT_CUPED_LOOKBACK_DAYS: u32 = 14;
pub const MAX_CUPED_LOOKBACK_DAYS: u32 = 60;
/// Relative effect (5 %) the team wants to be able to detect.
pub const DEFAULT_TARGET_MDE: f64 = 0.05;
/// A relative MDE above 1000 % is not a plan but a typo (e.g. 5 meant as 5 %).
pub const MAX_TARGET_MDE: f64 = 10.0;
/// Prior variance on the relative lift: a standard deviation of 30 %, gbstats' default.
pub const DEFAULT_PRIOR_VARIANCE: f64 = 0.09;

string_enum! {
    /// How effects are tested: Welch/delta-method tests with p-values, or a Bayesian posterior.
    pub enum Engine { Frequentist = "FREQUENTIST", Bayesian = "BAYESIAN" }
}

string_enum! {
    /// How p-values are adjusted across the experiment's primary and secondary metrics.
    pub enum Correction {
        None = "NONE", HolmBonferroni = "HOLM_BONFERRONI", BenjaminiHochberg = "BENJAMINI_HOCHBERG",
    }
}

/// The server's settings that experiments inherit when created (`LIFT_RESULTS_*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalysisDefaults {
    pub alpha: f64,
    pub min_identities: u64,
    pub min_conversions: u64,
}

/// A Gaussian prior on the relative lift; `proper: false` is the flat (improper) prior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub proper: bool,
    pub mean: f64,
    pub variance: f64,
}

/// Checked analysis settings: every value is in its range and nothing contradicts the engine.
/// Fields are private so that no code builds settings that skipped the checks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisSettings {
    engine: Engine,
    alpha: f64,
    sequential: bool,
    sequential_tuning: u32,
    cuped: bool,
    cuped_lookback_days: u32,
    correction: Correction,
    prior: Prior,
    minimum_identities: u64,
    minimum_conversions: u64,
    target_mde: f64,
}

impl AnalysisSettings {
    /// What an experiment gets when its input names no analysis setting.
    pub fn defaults(server: &AnalysisDefaults) -> Self {
        AnalysisSettings {
            engine: Engine::Frequentist,
            alpha: server.alpha,
            sequential: false,
            sequential_tuning: DEFAULT_SEQUENTIAL_TUNING,
            cuped: true,
            cuped_lookback_days: DEFAULT_CUPED_LOOKBACK_DAYS,
            correction: Correction::None,
            prior: Prior {
                proper: false,
                mean: 0.0,
                variance: DEFAULT_PRIOR_VARIANCE,
            },
            minimum_identities: server.min_identities,
            minimum_conversions: server.min_conversions,
            target_mde: DEFAULT_TARGET_MDE,
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    pub fn sequential(&self) -> bool {
        self.sequential
    }
    /// Identities the sequential confidence sequence is tuned for (gbstats' `sequential_tuning_parameter`).
    pub fn sequential_tuning(&self) -> u32 {
        self.sequential_tuning
    }
    pub fn cuped(&self) -> bool {
        self.cuped
    }
    pub fn cuped_lookback_days(&self) -> u32 {
        self.cuped_lookback_days
    }
    pub fn correction(&self) -> Correction {
        self.correction
    }
    pub fn prior(&self) -> Prior {
        self.prior
    }
    pub fn minimum_identities(&self) -> u64 {
        self.minimum_identities
    }
    pub fn minimum_conversions(&self) -> u64 {
        self.minimum_conversions
    }
    pub fn target_mde(&self) -> f64 {
        self.target_mde
    }

    /// The JSON stored in `experiments.analysis`.
    pub fn to_stored(&self) -> serde_json::Value {
        let mut value = self.to_audit();
        if let serde_json::Value::Object(fields) = &mut value {
            fields.insert("version".into(), ANALYSIS_VERSION.into());
        }
        value
    }

    /// The fields as the audit log records them (the stored JSON without its version).
    pub fn to_audit(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads stored settings, refusing versions this build does not know and values no input could
    /// have produced (a hand-edited row must not reach the statistics).
    pub fn from_stored(mut value: serde_json::Value) -> Result<Self, String> {
        let version = match &mut value {
            serde_json::Value::Object(fields) => fields.remove("version"),
            _ => None,
        };
        if version.as_ref().and_then(|v| v.as_u64()) != Some(u64::from(ANALYSIS_VERSION)) {
            return Err(format!(
                "analysis settings version {} is not supported (expected {ANALYSIS_VERSION})",
                version.unwrap_or(serde_json::Value::Null)
            ));
        }
        let settings: AnalysisSettings = serde_json::from_value(value)
            .map_err(|e| format!("malformed analysis settings: {e}"))?;
        settings.check().map_err(|e| match e {
            DomainError::Validation { field, message } => format!("{field}: {message}"),
            other => other.to_string(),
        })?;
        Ok(settings)
    }

    /// The rules every stored value satisfies, whoever wrote it.
    fn check(&self) -> DomainResult<()> {
        check_alpha(self.alpha)?;
        check_at_least(
            "analysis.sequentialTuning",
            self.sequential_tuning.into(),
            1,
        )?;
        check_lookback(self.cuped_lookback_days.into())?;
        check_prior(&self.prior)?;
        check_target_mde(self.target_mde)?;
        if self.engine == Engine::Bayesian && self.sequential {
            return Err(contradiction("analysis.sequential", "sequential testing"));
        }
        if self.engine == Engine::Bayesian && self.correction != Correction::None {
            return Err(contradiction(
                "analysis.correction",
                "a multiple-testing correction",
            ));
        }
        Ok(())
    }
}

/// What an experiment's row holds: settings resolved when it was created or last changed, or none
/// for experiments stored before settings existed, which follow the server's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StoredAnalysis {
    Pinned(AnalysisSettings),
    ServerDefaults,
}

impl StoredAnalysis {
    /// The settings in effect.
    pub fn resolve(&self, server: &AnalysisDefaults) -> AnalysisSettings {
        match self {
            StoredAnalysis::Pinned(settings) => *settings,
            StoredAnalysis::ServerDefaults => AnalysisSettings::defaults(server),
        }
    }

    /// The settings in effect, stored from now on: a change to an experiment pins what it ran
    /// with, so the server's defaults no longer move it.
    pub fn pinned(&self, server: &AnalysisDefaults) -> StoredAnalysis {
        StoredAnalysis::Pinned(self.resolve(server))
    }
}

/// Partial prior input; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PriorPatch {
    pub proper: Option<bool>,
    pub mean: Option<f64>,
    pub variance: Option<f64>,
}

/// Requested analysis settings; `None` keeps the current value (the default, at creation).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnalysisPatch {
    pub engine: Option<Engine>,
    pub alpha: Option<f64>,
    pub sequential: Option<bool>,
    pub sequential_tuning: Option<i64>,
    pub cuped: Option<bool>,
    pub cuped_lookback_days: Option<i64>,
    pub correction: Option<Correction>,
    pub prior: Option<PriorPatch>,
    pub minimum_identities: Option<i64>,
    pub minimum_conversions: Option<i64>,
    pub target_mde: Option<f64>,
}

impl AnalysisPatch {
    /// Merges the patch into `current`: each given value is checked, then the result must not
    /// contradict its engine, and once the experiment has started (`status` past CREATED) the
    /// engine, α, sequential testing and the correction must stay as they are. A value equal to
    /// the current one is not a change.
    pub fn apply(
        self,
        current: &AnalysisSettings,
        status: ExperimentStatus,
    ) -> DomainResult<AnalysisSettings> {
        let mut next = *current;
        if let Some(engine) = self.engine {
            next.engine = engine;
        }
        if let Some(alpha) = self.alpha {
            next.alpha = check_alpha(alpha)?;
        }
        if let Some(sequential) = self.sequential {
            next.sequential = sequential;
        }
        if let Some(tuning) = self.sequential_tuning {
            next.sequential_tuning = to_u32(
                "analysis.sequentialTuning",
                check_at_least("analysis.sequentialTuning", tuning, 1)?,
            )?;
        }
        if let Some(cuped) = self.cuped {
            next.cuped = cuped;
        }
        if let Some(days) = self.cuped_lookback_days {
            next.cuped_lookback_days = to_u32("analysis.cupedLookbackDays", check_lookback(days)?)?;
        }
        if let Some(correction) = self.correction {
            next.correction = correction;
        }
        if let Some(prior) = self.prior {
            next.prior = Prior {
                proper: prior.proper.unwrap_or(next.prior.proper),
                mean: prior.mean.unwrap_or(next.prior.mean),
                variance: prior.variance.unwrap_or(next.prior.variance),
            };
            check_prior(&next.prior)?;
        }
        if let Some(minimum) = self.minimum_identities {
            next.minimum_identities = check_at_least("analysis.minimumIdentities", minimum, 1)?;
        }
        if let Some(minimum) = self.minimum_conversions {
            next.minimum_conversions = check_at_least("analysis.minimumConversions", minimum, 0)?;
        }
        if let Some(mde) = self.target_mde {
            next.target_mde = check_target_mde(mde)?;
        }
        self.check_engine(&next)?;
        if status != ExperimentStatus::Created {
            check_locked(current, &next)?;
        }
        Ok(next)
    }

    /// Sequential testing and corrections exist only for p-values. The error names the field the
    /// input set, or the engine when the input switched engines under a stored setting.
    fn check_engine(&self, next: &AnalysisSettings) -> DomainResult<()> {
        if next.engine != Engine::Bayesian {
            return Ok(());
        }
        if next.sequential {
            let field = if self.sequential.is_some() {
                "analysis.sequential"
            } else {
                "analysis.engine"
            };
            return Err(contradiction(field, "sequential testing"));
        }
        if next.correction != Correction::None {
            let field = if self.correction.is_some() {
                "analysis.correction"
            } else {
                "analysis.engine"
            };
            return Err(contradiction(field, "a multiple-testing correction"));
        }
        Ok(())
    }
}

/// After the start, the settings that decide significance are fixed: changing them once data is
/// visible would let anyone keep trying until something looks significant.
fn check_locked(current: &AnalysisSettings, next: &AnalysisSettings) -> DomainResult<()> {
    let changed = [
        ("analysis.engine", current.engine != next.engine),
        ("analysis.alpha", current.alpha != next.alpha),
        ("analysis.sequential", current.sequential != next.sequential),
        ("analysis.correction", current.correction != next.correction),
    ];
    match changed.iter().find(|(_, changed)| *changed) {
        Some((field, _)) => Err(DomainError::validation(
            *field,
            format!(
                "{} cannot change once the experiment has started: the engine, alpha, sequential \
                 testing and the correction are decided before seeing data",
                field.trim_start_matches("analysis.")
            ),
        )),
        None => Ok(()),
    }
}

fn contradiction(field: &str, what: &str) -> DomainError {
    DomainError::validation(
        field,
        format!(
            "{what} applies only to the FREQUENTIST engine: the BAYESIAN engine reports chance to \
             win and credible intervals, not p-values (set sequential to false and correction to \
             NONE, or keep engine FREQUENTIST)"
        ),
    )
}

fn check_alpha(alpha: f64) -> DomainResult<f64> {
    if alpha.is_finite() && alpha > 0.0 && alpha < 0.5 {
        Ok(alpha)
    } else {
        Err(DomainError::validation(
            "analysis.alpha",
            format!("alpha must be greater than 0 and less than 0.5 (got {alpha})"),
        ))
    }
}

fn check_at_least(field: &str, value: i64, min: i64) -> DomainResult<u64> {
    u64::try_from(value)
        .ok()
        .filter(|_| value >= min)
        .ok_or_else(|| {
            DomainError::validation(
                field,
                format!(
                    "{} must be at least {min} (got {value})",
                    field.trim_start_matches("analysis.")
                ),
            )
        })
}

fn check_lookback(days: i64) -> DomainResult<u64> {
    if (1..=i64::from(MAX_CUPED_LOOKBACK_DAYS)).contains(&days) {
        Ok(days.unsigned_abs())
    } else {
        Err(DomainError::validation(
            "analysis.cupedLookbackDays",
            format!(
                "cupedLookbackDays must be between 1 and {MAX_CUPED_LOOKBACK_DAYS} (got {days})"
            ),
        ))
    }
}

fn check_prior(prior: &Prior) -> DomainResult<()> {
    if !prior.mean.is_finite() {
        return Err(DomainError::validation(
            "analysis.prior.mean",
            "the prior mean must be a finite number",
        ));
    }
    if !(prior.variance.is_finite() && prior.variance > 0.0) {
        return Err(DomainError::validation(
            "analysis.prior.variance",
            format!(
                "the prior variance must be greater than 0 (got {})",
                prior.variance
            ),
        ));
    }
    Ok(())
}

fn check_target_mde(mde: f64) -> DomainResult<f64> {
    if mde.is_finite() && mde > 0.0 && mde <= MAX_TARGET_MDE {
        Ok(mde)
    } else {
        Err(DomainError::validation(
            "analysis.targetMde",
            format!(
                "targetMde is a relative effect greater than 0 and at most {MAX_TARGET_MDE} \
                 (0.05 is 5 %; got {mde})"
            ),
        ))
    }
}

fn to_u32(field: &str, value: u64) -> DomainResult<u32> {
    u32::try_from(value).map_err(|_| {
        DomainError::validation(
            field,
            format!("{value} is too large (at most {})", u32::MAX),
        )
    })
}

#[cfg(test)]
mod tests;
