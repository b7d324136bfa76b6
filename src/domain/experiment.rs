//! Experiment rules: the status state machine, what may be created or changed in which state, and
//! what attachments of metrics may look like.
//!
//! ```text
//! CREATED ──start──▶ RUNNING ──pause──▶ PAUSED
//!                      │  ▲───start──────┘ │
//!                      └──complete──▶ COMPLETED ◀──complete──┘   (COMPLETED is terminal)
//! ```

use super::analysis::{AnalysisDefaults, AnalysisPatch, AnalysisSettings, StoredAnalysis};
use super::error::{DomainError, DomainResult};
use super::feature::Variant;
use super::model::Experiment;
use super::string_enum::string_enum;
use super::text::{optional_text, required_line};

pub const MAX_NAME: usize = 255;
pub const MAX_HYPOTHESIS: usize = 10_000;
pub const MAX_EXPOSURE_EVENT: usize = 200;
pub const DEFAULT_EXPOSURE_EVENT: &str = "$flag_exposure";
pub const DEFAULT_CONTROL_VARIANT: &str = "control";

string_enum! {
    pub enum ExperimentStatus {
        Created = "CREATED", Running = "RUNNING", Paused = "PAUSED", Completed = "COMPLETED",
    }
}

string_enum! {
    /// What the experimenter expects the metric to do under treatment.
    pub enum ExpectedDirection {
        Increase = "INCREASE", Decrease = "DECREASE", NotIncrease = "NOT_INCREASE",
        NotDecrease = "NOT_DECREASE",
    }
}

string_enum! {
    /// What to do with identities exposed to more than one variant: keep their first exposure
    /// (FIRST_TOUCH) or leave them out of the analysis and count them (EXCLUDE, the default).
    pub enum MultipleExposureHandling { FirstTouch = "FIRST_TOUCH", Exclude = "EXCLUDE" }
}

string_enum! {
    pub enum MetricRole { Primary = "PRIMARY", Secondary = "SECONDARY", Guardrail = "GUARDRAIL" }
}

/// A lifecycle command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Start,
    Pause,
    Complete,
}

impl Transition {
    fn verb(self) -> &'static str {
        match self {
            Transition::Start => "start",
            Transition::Pause => "pause",
            Transition::Complete => "complete",
        }
    }
}

impl ExperimentStatus {
    /// The status after `transition`, or why it is not allowed from here.
    pub fn apply(self, transition: Transition) -> DomainResult<ExperimentStatus> {
        use ExperimentStatus::*;
        let next = match (self, transition) {
            (Created | Paused, Transition::Start) => Running,
            (Running, Transition::Pause) => Paused,
            (Running | Paused, Transition::Complete) => Completed,
            _ => {
                return Err(DomainError::validation(
                    "id",
                    format!("cannot {} an experiment that is {self}", transition.verb()),
                ))
            }
        };
        Ok(next)
    }

    /// Active experiments count against "one active experiment per feature and environment".
    pub fn is_active(self) -> bool {
        self != ExperimentStatus::Completed
    }
}

/// An experiment as submitted, before its feature is consulted.
#[derive(Debug, Clone, Default)]
pub struct ExperimentDraft {
    pub name: String,
    pub hypothesis: Option<String>,
    pub exposure_event: Option<String>,
    pub control_variant: Option<String>,
    pub multiple_exposure_handling: Option<MultipleExposureHandling>,
    /// Analysis settings the input names; the rest are the defaults.
    pub analysis: Option<AnalysisPatch>,
}

/// A checked experiment, ready to store with status CREATED.
#[derive(Debug, Clone)]
pub struct NewExperiment {
    name: String,
    hypothesis: String,
    exposure_event: String,
    control_variant: String,
    multiple_exposure_handling: MultipleExposureHandling,
    analysis: AnalysisSettings,
}

impl NewExperiment {
    /// Checks a draft; its analysis settings are resolved against the server's `defaults` now and
    /// stored, so a later change of a server default does not move this experiment.
    pub fn parse(
        draft: ExperimentDraft,
        variants: &[Variant],
        defaults: &AnalysisDefaults,
    ) -> DomainResult<Self> {
        if variants.len() < 2 {
            return Err(DomainError::validation(
                "featureId",
                format!(
                    "an experiment needs a feature with at least 2 variants (this one has {})",
                    variants.len()
                ),
            ));
        }
        let name = required_line("name", &draft.name, MAX_NAME)?;
        let hypothesis = optional_text(
            "hypothesis",
            draft.hypothesis.as_deref().unwrap_or_default(),
            MAX_HYPOTHESIS,
        )?;
        let exposure_event = required_line(
            "exposureEvent",
            draft
                .exposure_event
                .as_deref()
                .unwrap_or(DEFAULT_EXPOSURE_EVENT),
            MAX_EXPOSURE_EVENT,
        )?;
        let control_variant = draft
            .control_variant
            .unwrap_or_else(|| DEFAULT_CONTROL_VARIANT.to_owned());
        check_control_variant(&control_variant, variants)?;
        let analysis = draft.analysis.unwrap_or_default().apply(
            &AnalysisSettings::defaults(defaults),
            ExperimentStatus::Created,
        )?;
        Ok(NewExperiment {
            name,
            hypothesis,
            exposure_event,
            control_variant,
            multiple_exposure_handling: draft
                .multiple_exposure_handling
                .unwrap_or(MultipleExposureHandling::Exclude),
            analysis,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn hypothesis(&self) -> &str {
        &self.hypothesis
    }
    pub fn exposure_event(&self) -> &str {
        &self.exposure_event
    }
    pub fn control_variant(&self) -> &str {
        &self.control_variant
    }
    pub fn multiple_exposure_handling(&self) -> MultipleExposureHandling {
        self.multiple_exposure_handling
    }
    pub fn analysis(&self) -> &AnalysisSettings {
        &self.analysis
    }
}

fn check_control_variant(key: &str, variants: &[Variant]) -> DomainResult<()> {
    if variants.iter().any(|v| v.key == key) {
        return Ok(());
    }
    let keys: Vec<&str> = variants.iter().map(|v| v.key.as_str()).collect();
    Err(DomainError::validation(
        "controlVariant",
        format!("control variant {key:?} is not one of the feature's variants {keys:?}"),
    ))
}

/// Requested changes to an experiment; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ExperimentPatch {
    pub name: Option<String>,
    pub hypothesis: Option<String>,
    pub exposure_event: Option<String>,
    pub control_variant: Option<String>,
    pub multiple_exposure_handling: Option<MultipleExposureHandling>,
    /// Merged into the settings in effect (see `AnalysisPatch::apply` for what is locked when).
    pub analysis: Option<AnalysisPatch>,
}

/// Applies a patch: COMPLETED experiments are frozen, and what defines the measurement (exposure
/// event, control variant) may change only before the experiment first starts. `current` has its
/// analysis settings pinned (`Experiment::with_pinned_analysis`), so the patch merges into the
/// values in effect.
pub fn apply_patch(
    current: &Experiment,
    patch: ExperimentPatch,
    variants: &[Variant],
) -> DomainResult<Experiment> {
    if current.status == ExperimentStatus::Completed {
        return Err(DomainError::validation(
            "id",
            "a completed experiment cannot be changed",
        ));
    }
    let mut next = current.clone();
    if let Some(name) = patch.name {
        next.name = required_line("name", &name, MAX_NAME)?;
    }
    if let Some(hypothesis) = patch.hypothesis {
        next.hypothesis = optional_text("hypothesis", &hypothesis, MAX_HYPOTHESIS)?;
    }
    let started = current.status != ExperimentStatus::Created;
    if let Some(event) = patch.exposure_event {
        let event = required_line("exposureEvent", &event, MAX_EXPOSURE_EVENT)?;
        if started && event != current.exposure_event {
            return Err(DomainError::validation(
                "exposureEvent",
                "the exposure event cannot change once the experiment has started",
            ));
        }
        next.exposure_event = event;
    }
    if let Some(control) = patch.control_variant {
        check_control_variant(&control, variants)?;
        if started && control != current.control_variant {
            return Err(DomainError::validation(
                "controlVariant",
                "the control variant cannot change once the experiment has started",
            ));
        }
        next.control_variant = control;
    }
    if let Some(handling) = patch.multiple_exposure_handling {
        if started && handling != current.multiple_exposure_handling {
            return Err(DomainError::validation(
                "multipleExposureHandling",
                "the multiple-exposure policy cannot change once the experiment has started",
            ));
        }
        next.multiple_exposure_handling = handling;
    }
    if let Some(analysis) = patch.analysis {
        let StoredAnalysis::Pinned(settings) = current.analysis else {
            return Err(DomainError::internal(format!(
                "experiment {}: analysis settings must be pinned before a patch applies",
                current.id
            )));
        };
        next.analysis = StoredAnalysis::Pinned(analysis.apply(&settings, current.status)?);
    }
    Ok(next)
}

impl Experiment {
    /// The experiment with the analysis settings in effect stored: every change pins them, so the
    /// audit diff compares the values in effect and the server's defaults no longer move it.
    pub fn with_pinned_analysis(self, defaults: &AnalysisDefaults) -> Experiment {
        Experiment {
            analysis: self.analysis.pinned(defaults),
            ..self
        }
    }
}

/// A running experiment must be paused or completed before it can be deleted.
pub fn check_deletable(status: ExperimentStatus) -> DomainResult<()> {
    if status == ExperimentStatus::Running {
        return Err(DomainError::validation(
            "id",
            "a running experiment cannot be deleted: pause or complete it first",
        ));
    }
    Ok(())
}

/// Metrics can be attached, re-attached or detached only until the experiment completes.
pub fn check_attachments_editable(status: ExperimentStatus) -> DomainResult<()> {
    if status == ExperimentStatus::Completed {
        return Err(DomainError::validation(
            "experimentId",
            "the metrics of a completed experiment cannot be changed",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExperimentStatus::*;

    const SERVER: AnalysisDefaults = AnalysisDefaults {
        alpha: 0.05,
        min_identities: 50,
        min_conversions: 5,
    };

    fn variants() -> Vec<Variant> {
        ["control", "treatment"]
            .iter()
            .map(|k| Variant {
                key: (*k).into(),
                weight: 1.0,
            })
            .collect()
    }

    #[test]
    fn every_transition_of_the_state_machine() {
        let all = [Created, Running, Paused, Completed];
        let allowed = [
            (Created, Transition::Start, Running),
            (Running, Transition::Pause, Paused),
            (Running, Transition::Complete, Completed),
            (Paused, Transition::Start, Running),
            (Paused, Transition::Complete, Completed),
        ];
        for from in all {
            for t in [Transition::Start, Transition::Pause, Transition::Complete] {
                let expected = allowed
                    .iter()
                    .find(|(f, tr, _)| *f == from && *tr == t)
                    .map(|a| a.2);
                match (from.apply(t), expected) {
                    (Ok(next), Some(want)) => assert_eq!(next, want),
                    (Err(DomainError::Validation { .. }), None) => {}
                    (got, want) => panic!("{from} {t:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn new_experiments_take_defaults_and_need_two_variants() {
        let exp = NewExperiment::parse(
            ExperimentDraft {
                name: "Checkout".into(),
                ..Default::default()
            },
            &variants(),
            &SERVER,
        )
        .expect("valid");
        assert_eq!(exp.exposure_event(), DEFAULT_EXPOSURE_EVENT);
        assert_eq!(exp.control_variant(), DEFAULT_CONTROL_VARIANT);
        let one = &variants()[..1];
        assert!(NewExperiment::parse(
            ExperimentDraft {
                name: "x".into(),
                ..Default::default()
            },
            one,
            &SERVER,
        )
        .is_err());
    }

    #[test]
    fn the_control_variant_must_be_a_feature_variant() {
        let err = NewExperiment::parse(
            ExperimentDraft {
                name: "Checkout".into(),
                control_variant: Some("nope".into()),
                ..Default::default()
            },
            &variants(),
            &SERVER,
        );
        assert!(
            matches!(err, Err(DomainError::Validation { field, .. }) if field == "controlVariant")
        );
    }

    #[test]
    fn new_experiments_store_their_analysis_settings_resolved() {
        let draft = |analysis| ExperimentDraft {
            name: "Checkout".into(),
            analysis,
            ..Default::default()
        };
        let plain = NewExperiment::parse(draft(None), &variants(), &SERVER).expect("valid");
        assert_eq!(*plain.analysis(), AnalysisSettings::defaults(&SERVER));
        let strict = AnalysisPatch {
            alpha: Some(0.01),
            ..Default::default()
        };
        let chosen =
            NewExperiment::parse(draft(Some(strict)), &variants(), &SERVER).expect("valid");
        assert_eq!(chosen.analysis().alpha(), 0.01);
        let invalid = AnalysisPatch {
            alpha: Some(0.7),
            ..Default::default()
        };
        assert!(matches!(
            NewExperiment::parse(draft(Some(invalid)), &variants(), &SERVER),
            Err(DomainError::Validation { field, .. }) if field == "analysis.alpha"
        ));
    }

    fn experiment(status: ExperimentStatus, analysis: StoredAnalysis) -> Experiment {
        let now = chrono::Utc::now();
        Experiment {
            id: "e".into(),
            environment_id: "env".into(),
            feature_id: "f".into(),
            name: "Checkout".into(),
            hypothesis: String::new(),
            status,
            exposure_event: DEFAULT_EXPOSURE_EVENT.into(),
            control_variant: DEFAULT_CONTROL_VARIANT.into(),
            multiple_exposure_handling: MultipleExposureHandling::Exclude,
            analysis,
            started_at: None,
            ended_at: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }

    #[test]
    fn an_analysis_patch_merges_into_pinned_settings_and_respects_the_lock() {
        let alpha = |value| ExperimentPatch {
            analysis: Some(AnalysisPatch {
                alpha: Some(value),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pinned = StoredAnalysis::Pinned(AnalysisSettings::defaults(&SERVER));
        let created = experiment(Created, pinned);
        let next = apply_patch(&created, alpha(0.01), &variants()).expect("before the start");
        assert_eq!(next.analysis.resolve(&SERVER).alpha(), 0.01);
        let running = experiment(Running, pinned);
        assert!(matches!(
            apply_patch(&running, alpha(0.01), &variants()),
            Err(DomainError::Validation { field, .. }) if field == "analysis.alpha"
        ));
        assert!(apply_patch(&running, alpha(0.05), &variants()).is_ok());
        // Without pinning first, a patch would merge into nothing: a bug, not user input.
        let unpinned = experiment(Created, StoredAnalysis::ServerDefaults);
        assert!(matches!(
            apply_patch(&unpinned, alpha(0.01), &variants()),
            Err(DomainError::Internal(_))
        ));
        let pinned_now = unpinned.with_pinned_analysis(&SERVER);
        assert!(apply_patch(&pinned_now, alpha(0.01), &variants()).is_ok());
    }

    #[test]
    fn only_running_experiments_are_undeletable() {
        assert!(check_deletable(Running).is_err());
        for s in [Created, Paused, Completed] {
            assert!(check_deletable(s).is_ok());
        }
    }
}
