//! The permission matrix: every role of the seeded `World` against every read and write on
//! environments, metrics, experiments and attachments, and the exact `extensions.code` each
//! (role, operation) pair must get. `operations` runs each pair and checks the state afterwards.

use super::operations::exercise;
use super::*;

/// What a role may do in environment `prod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rights {
    Admin,
    View,
    Nothing,
}

const ROLES: [(&str, Rights); 8] = [
    (ORG_ADMIN, Rights::Admin),
    (PROJECT_ADMIN, Rights::Admin),
    (ENV_ADMIN, Rights::Admin),
    (PROJECT_VIEWER, Rights::View),
    (ENV_VIEWER, Rights::View),
    (ORG_USER, Rights::Nothing),
    (OUTSIDER, Rights::Nothing),
    (OTHER_ORG_ADMIN, Rights::Nothing),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Environment,
    MetricList,
    ExperimentList,
    ReadMetric,
    ReadExperiment,
    CreateMetric,
    DeleteMetric,
    UpdateMetric,
    CreateExperiment,
    UpdateExperiment,
    StartExperiment,
    PauseExperiment,
    CompleteExperiment,
    DeleteExperiment,
    AttachMetric,
    UpdateExperimentMetric,
    UpgradeExperimentMetric,
    DetachMetric,
}

const READS: [Op; 5] = [
    Op::Environment,
    Op::MetricList,
    Op::ExperimentList,
    Op::ReadMetric,
    Op::ReadExperiment,
];
const METRIC_WRITES: [Op; 3] = [Op::CreateMetric, Op::DeleteMetric, Op::UpdateMetric];
const EXPERIMENT_WRITES: [Op; 6] = [
    Op::CreateExperiment,
    Op::UpdateExperiment,
    Op::StartExperiment,
    Op::PauseExperiment,
    Op::CompleteExperiment,
    Op::DeleteExperiment,
];
const ATTACHMENT_WRITES: [Op; 4] = [
    Op::AttachMetric,
    Op::UpdateExperimentMetric,
    Op::UpgradeExperimentMetric,
    Op::DetachMetric,
];

impl Op {
    fn is_write(self) -> bool {
        !READS.contains(&self)
    }

    /// The code `rights` must get for this operation on an object of `prod`.
    fn expected(self, rights: Rights) -> &'static str {
        match rights {
            Rights::Admin => "OK",
            Rights::View if self.is_write() => "FORBIDDEN",
            Rights::View => "OK",
            Rights::Nothing => "NOT_FOUND",
        }
    }
}

/// Runs every role against every operation in `ops`; reports every mismatch at once.
async fn run_matrix(app: &TestApp, ops: &[Op]) {
    let world = app.world().await;
    let mut failures = Vec::new();
    let mut n = 0;
    for &op in ops {
        for (user, rights) in ROLES {
            n += 1;
            let expected = op.expected(rights);
            match exercise(app, &world, n, op, user).await {
                Ok(actual) if actual == expected => {}
                Ok(actual) => failures.push(format!(
                    "{op:?} as {user}: expected {expected}, got {actual}"
                )),
                Err(problem) => failures.push(format!("{op:?} as {user}: {problem}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        n,
        failures.join("\n")
    );
}

db_test!(every_role_gets_exactly_its_rights_on_reads, |app| {
    run_matrix(&app, &READS).await;
});

db_test!(every_role_gets_exactly_its_rights_on_metric_writes, |app| {
    run_matrix(&app, &METRIC_WRITES).await;
});

db_test!(
    every_role_gets_exactly_its_rights_on_experiment_writes,
    |app| {
        run_matrix(&app, &EXPERIMENT_WRITES).await;
    }
);

db_test!(
    every_role_gets_exactly_its_rights_on_attachment_writes,
    |app| {
        run_matrix(&app, &ATTACHMENT_WRITES).await;
    }
);
