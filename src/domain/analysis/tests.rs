//! Unit tests of `domain::analysis`: defaults, merging, ranges, contradictions, the lock and storage.

use super::*;
use ExperimentStatus::*;

const SERVER: AnalysisDefaults = AnalysisDefaults {
    alpha: 0.1,
    min_identities: 80,
    min_conversions: 7,
};

fn field_of<T: std::fmt::Debug>(result: DomainResult<T>) -> String {
    match result {
        Err(DomainError::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn defaults_take_the_server_settings_and_the_documented_constants() {
    let s = AnalysisSettings::defaults(&SERVER);
    assert_eq!(s.engine(), Engine::Frequentist);
    assert_eq!(
        (s.alpha(), s.minimum_identities(), s.minimum_conversions()),
        (0.1, 80, 7)
    );
    assert_eq!((s.sequential(), s.sequential_tuning()), (false, 5_000));
    assert_eq!((s.cuped(), s.cuped_lookback_days()), (true, 14));
    assert_eq!(s.correction(), Correction::None);
    assert_eq!(
        s.prior(),
        Prior {
            proper: false,
            mean: 0.0,
            variance: 0.09
        }
    );
    assert_eq!(s.target_mde(), 0.05);
}

#[test]
fn a_patch_merges_into_the_current_settings_and_keeps_the_rest() {
    let current = AnalysisSettings::defaults(&SERVER);
    let next = AnalysisPatch {
        engine: Some(Engine::Bayesian),
        prior: Some(PriorPatch {
            proper: Some(true),
            ..Default::default()
        }),
        target_mde: Some(0.02),
        ..Default::default()
    }
    .apply(&current, Created)
    .expect("valid");
    assert_eq!(next.engine(), Engine::Bayesian);
    assert_eq!(
        next.prior(),
        Prior {
            proper: true,
            mean: 0.0,
            variance: 0.09
        }
    );
    assert_eq!(next.target_mde(), 0.02);
    assert_eq!(next.alpha(), 0.1);
}

#[test]
fn each_out_of_range_value_names_its_field() {
    let current = AnalysisSettings::defaults(&SERVER);
    let cases: Vec<(&str, AnalysisPatch)> = vec![
        (
            "analysis.alpha",
            AnalysisPatch {
                alpha: Some(0.0),
                ..Default::default()
            },
        ),
        (
            "analysis.alpha",
            AnalysisPatch {
                alpha: Some(0.5),
                ..Default::default()
            },
        ),
        (
            "analysis.alpha",
            AnalysisPatch {
                alpha: Some(f64::NAN),
                ..Default::default()
            },
        ),
        (
            "analysis.sequentialTuning",
            AnalysisPatch {
                sequential_tuning: Some(0),
                ..Default::default()
            },
        ),
        (
            "analysis.cupedLookbackDays",
            AnalysisPatch {
                cuped_lookback_days: Some(0),
                ..Default::default()
            },
        ),
        (
            "analysis.cupedLookbackDays",
            AnalysisPatch {
                cuped_lookback_days: Some(61),
                ..Default::default()
            },
        ),
        (
            "analysis.prior.variance",
            AnalysisPatch {
                prior: Some(PriorPatch {
                    variance: Some(0.0),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
        (
            "analysis.prior.mean",
            AnalysisPatch {
                prior: Some(PriorPatch {
                    mean: Some(f64::INFINITY),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
        (
            "analysis.minimumIdentities",
            AnalysisPatch {
                minimum_identities: Some(0),
                ..Default::default()
            },
        ),
        (
            "analysis.minimumConversions",
            AnalysisPatch {
                minimum_conversions: Some(-1),
                ..Default::default()
            },
        ),
        (
            "analysis.targetMde",
            AnalysisPatch {
                target_mde: Some(0.0),
                ..Default::default()
            },
        ),
        (
            "analysis.targetMde",
            AnalysisPatch {
                target_mde: Some(10.5),
                ..Default::default()
            },
        ),
    ];
    for (want, patch) in cases {
        assert_eq!(field_of(patch.apply(&current, Created)), want, "{patch:?}");
    }
    // The bounds themselves are allowed.
    let edge = AnalysisPatch {
        alpha: Some(0.499),
        sequential_tuning: Some(1),
        cuped_lookback_days: Some(60),
        minimum_conversions: Some(0),
        target_mde: Some(10.0),
        ..Default::default()
    };
    assert!(edge.apply(&current, Created).is_ok());
}

#[test]
fn sequential_or_a_correction_under_bayesian_names_the_contradicting_field() {
    let current = AnalysisSettings::defaults(&SERVER);
    let bayes_sequential = AnalysisPatch {
        engine: Some(Engine::Bayesian),
        sequential: Some(true),
        ..Default::default()
    };
    assert_eq!(
        field_of(bayes_sequential.apply(&current, Created)),
        "analysis.sequential"
    );
    let bayes_corrected = AnalysisPatch {
        engine: Some(Engine::Bayesian),
        correction: Some(Correction::HolmBonferroni),
        ..Default::default()
    };
    assert_eq!(
        field_of(bayes_corrected.apply(&current, Created)),
        "analysis.correction"
    );
    // Switching the engine under a stored sequential setting blames the engine.
    let sequential = AnalysisPatch {
        sequential: Some(true),
        ..Default::default()
    }
    .apply(&current, Created)
    .expect("frequentist sequential");
    let switch = AnalysisPatch {
        engine: Some(Engine::Bayesian),
        ..Default::default()
    };
    assert_eq!(
        field_of(switch.apply(&sequential, Created)),
        "analysis.engine"
    );
}

#[test]
fn after_the_start_only_the_decision_settings_are_locked() {
    let current = AnalysisSettings::defaults(&SERVER);
    for status in [Running, Paused] {
        let locked = [
            (
                "analysis.engine",
                AnalysisPatch {
                    engine: Some(Engine::Bayesian),
                    ..Default::default()
                },
            ),
            (
                "analysis.alpha",
                AnalysisPatch {
                    alpha: Some(0.05),
                    ..Default::default()
                },
            ),
            (
                "analysis.sequential",
                AnalysisPatch {
                    sequential: Some(true),
                    ..Default::default()
                },
            ),
            (
                "analysis.correction",
                AnalysisPatch {
                    correction: Some(Correction::BenjaminiHochberg),
                    ..Default::default()
                },
            ),
        ];
        for (want, patch) in locked {
            assert_eq!(field_of(patch.apply(&current, status)), want);
        }
        let same = AnalysisPatch {
            engine: Some(Engine::Frequentist),
            alpha: Some(0.1),
            sequential: Some(false),
            correction: Some(Correction::None),
            cuped: Some(false),
            cuped_lookback_days: Some(30),
            target_mde: Some(0.1),
            minimum_identities: Some(10),
            ..Default::default()
        };
        let next = same
            .apply(&current, status)
            .expect("same values are no change");
        assert_eq!((next.cuped(), next.cuped_lookback_days()), (false, 30));
    }
}

#[test]
fn stored_settings_round_trip_with_their_version() {
    let settings = AnalysisPatch {
        engine: Some(Engine::Bayesian),
        alpha: Some(0.01),
        prior: Some(PriorPatch {
            proper: Some(true),
            mean: Some(0.1),
            variance: Some(0.5),
        }),
        ..Default::default()
    }
    .apply(&AnalysisSettings::defaults(&SERVER), Created)
    .expect("valid");
    let stored = settings.to_stored();
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["engine"], "BAYESIAN");
    assert_eq!(stored["prior"]["variance"], 0.5);
    assert_eq!(AnalysisSettings::from_stored(stored), Ok(settings));
    assert!(settings.to_audit().get("version").is_none());
}

#[test]
fn unknown_versions_and_impossible_stored_values_are_refused() {
    let mut stored = AnalysisSettings::defaults(&SERVER).to_stored();
    stored["version"] = 2.into();
    assert!(AnalysisSettings::from_stored(stored.clone()).is_err());
    stored["version"] = 1.into();
    stored["alpha"] = 0.9.into();
    let err = AnalysisSettings::from_stored(stored).expect_err("alpha out of range");
    assert!(err.contains("analysis.alpha"), "{err}");
    assert!(AnalysisSettings::from_stored(serde_json::json!("x")).is_err());
}

#[test]
fn experiments_without_stored_settings_follow_the_server_until_pinned() {
    let legacy = StoredAnalysis::ServerDefaults;
    assert_eq!(legacy.resolve(&SERVER).alpha(), 0.1);
    let later = AnalysisDefaults {
        alpha: 0.2,
        ..SERVER
    };
    assert_eq!(legacy.resolve(&later).alpha(), 0.2);
    let pinned = legacy.pinned(&SERVER);
    assert_eq!(pinned.resolve(&later).alpha(), 0.1);
}
