//! `StatsError`: every way a statistical computation can refuse its input.

use statrs::distribution::{GammaError, StudentsTError};

/// Why a test could not be computed. The stats core never panics and never returns NaN in an
/// `Ok`; anything it cannot compute honestly ends up here.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A variant has fewer observations than the test needs (a variance needs `n ≥ 2`).
    #[error("{arm} has {n} identities, at least {required} are needed")]
    TooFewObservations {
        arm: &'static str,
        n: u64,
        required: u64,
    },
    /// A sufficient statistic is NaN or infinite.
    #[error("{arm}.{field} is not finite")]
    NonFiniteInput {
        arm: &'static str,
        field: &'static str,
    },
    /// The sums cannot come from real data: a negative sample variance
    /// (`sum_sq < sum²/n`), or a conversion count outside `0..=n`.
    #[error("{arm} has inconsistent sums: {reason}")]
    InconsistentSums {
        arm: &'static str,
        reason: &'static str,
    },
    /// Both arms have zero variance, so there is no sampling error to test against.
    #[error("both variants have zero variance")]
    ZeroVariance,
    /// The significance level is not strictly between 0 and 1.
    #[error("alpha must be in (0, 1), got {0}")]
    InvalidAlpha(f64),
    /// The sequential test's tuning parameter is not a positive, finite number of identities.
    #[error("sequential tuning must be positive and finite, got {0}")]
    InvalidTuning(f64),
    /// A proper prior needs a finite mean and a positive, finite variance.
    #[error("a proper prior needs a finite mean and a positive variance, got mean {mean}, variance {variance}")]
    InvalidPrior { mean: f64, variance: f64 },
    /// An intermediate or final value overflowed to infinity or NaN.
    #[error("{0} is not finite")]
    NonFiniteResult(&'static str),
    /// A sample-ratio check needs at least two variants.
    #[error("a sample-ratio check needs at least 2 variants, got {0}")]
    TooFewVariants(usize),
    /// `observed` and `weights` describe different numbers of variants.
    #[error("{observed} observed counts but {weights} weights")]
    LengthMismatch { observed: usize, weights: usize },
    /// A traffic weight is zero, negative or not finite.
    #[error("weight {index} must be positive and finite, got {weight}")]
    InvalidWeight { index: usize, weight: f64 },
    /// A p-value to adjust is NaN or outside `[0, 1]` (`index` is its place in the family).
    #[error("p-value {index} must be in [0, 1], got {value}")]
    InvalidPValue { index: usize, value: f64 },
    /// An argument of a correction or power computation is out of its domain.
    #[error("{name} {reason}")]
    InvalidArgument {
        name: &'static str,
        reason: &'static str,
    },
    /// statrs refused to build a Student's t distribution.
    #[error("Student's t distribution: {0}")]
    StudentsT(#[from] StudentsTError),
    /// statrs refused to build a χ² distribution (it is a gamma distribution underneath).
    #[error("chi-squared distribution: {0}")]
    ChiSquared(#[from] GammaError),
}
