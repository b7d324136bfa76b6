//! Judging attached metrics under an experiment's analysis settings: per metric and non-control
//! variant, the comparison (`stats::analyze`: fixed-horizon, sequential or Bayesian, CUPED when
//! the query computed a covariate), the family's multiple-testing correction, the verdict, the
//! power of primary metrics and the pre-exposure balance; then the health of the whole report and
//! a recommendation per variant. Pure: sums and settings in, report parts out.
//!
//! RATIO metrics are compared by `stats::analyze_ratio` (the delta method; CUPED falls back) and
//! get no power; their summaries report `Σm / Σd` as the mean beside both totals.
//!
//! The family for the correction is (PRIMARY + SECONDARY metrics) × non-control variants;
//! guardrails stay out so they keep their full sensitivity. The verdict reads the absolute
//! difference: frequentist, its p-value (adjusted when corrected) below α; Bayesian, its credible
//! interval excluding zero (a chance to win of at least 1 − α/2 on one side).

use super::analysis::{AnalysisSettings, Correction, Engine};
use super::experiment::{ExpectedDirection, MetricRole};
use super::feature::Variant;
use super::funnel_capping;
use super::health::{self, Health, PreExposure};
use super::metric::{Aggregation, Direction, MetricType};
use super::recommendation::{self, MetricOutcome, Recommendation};
use super::results::{
    AttachedMetric, Corrected, ExposureSummary, MetricResult, MetricStats, Power, ResultsPolicy,
    VariantComparison, VariantSummary,
};
use crate::stats::correction::{self, adjusted_interval, AdjustedInterval};
use crate::stats::power::{self, Baseline, Design, DEFAULT_POWER};
use crate::stats::{
    self, Analysis, ArmSums, DenominatorSums, Evidence, Expectation, GoodDirection, Method,
    MetricKind, RatioArm, Spec, VariantStats,
};

/// Everything judging needs besides the sums.
pub struct Context<'a> {
    pub attached: &'a [AttachedMetric],
    pub variants: &'a [Variant],
    pub policy: &'a ResultsPolicy,
    pub settings: &'a AnalysisSettings,
    /// Days the experiment has collected identities (for identities per day); at least a minute's
    /// worth, so a just-started experiment does not divide by zero.
    pub days_running: f64,
}

/// Judges every attached metric: per-variant summaries in the feature's order, then every
/// non-control variant against the control.
pub fn judge_metrics(stats: &MetricStats, cx: &Context<'_>) -> Vec<MetricResult> {
    let mut results: Vec<MetricResult> = cx
        .attached
        .iter()
        .enumerate()
        .map(|(index, attached)| analyse_metric(index, attached, stats, cx))
        .collect();
    correct_family(&mut results, cx);
    for (index, (result, attached)) in results.iter_mut().zip(cx.attached).enumerate() {
        judge_metric(index, result, attached, stats, cx);
    }
    results
}

/// The report's health from the exposures and the judged metrics.
pub fn health(
    exposures: &ExposureSummary,
    metrics: &[MetricResult],
    settings: &AnalysisSettings,
) -> Health {
    let pre_exposure: Vec<PreExposure> = metrics
        .iter()
        .filter_map(|m| {
            let worst = m
                .comparisons
                .iter()
                .filter_map(|c| c.pre_exposure_p_value.map(|p| (c, p)))
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            Some(PreExposure {
                experiment_metric_id: m.experiment_metric_id.clone(),
                metric_name: m.metric_name.clone().unwrap_or_else(|| m.metric_id.clone()),
                variant: worst.0.variant.clone(),
                p_value: worst.1,
            })
        })
        .collect();
    health::assess(exposures, &pre_exposure, settings.minimum_identities())
}

/// One recommendation per non-control variant, in the feature's order.
pub fn recommendations(
    health: &Health,
    metrics: &[MetricResult],
    variants: &[Variant],
    control: &str,
    settings: &AnalysisSettings,
) -> Vec<Recommendation> {
    variants
        .iter()
        .filter(|v| v.key != control)
        .map(|v| {
            let outcomes: Vec<MetricOutcome> = metrics
                .iter()
                .filter_map(|m| {
                    let comparison = m.comparisons.iter().find(|c| c.variant == v.key)?;
                    Some(MetricOutcome {
                        name: m.metric_name.clone().unwrap_or_else(|| m.metric_id.clone()),
                        role: m.role.unwrap_or(MetricRole::Secondary),
                        verdict: comparison.verdict,
                        mde: comparison.power.and_then(|p| p.mde),
                    })
                })
                .collect();
            recommendation::recommend(&v.key, health.status, &outcomes, settings.target_mde())
        })
        .collect()
}

fn arm_of(stats: &MetricStats, index: usize, variant: &str) -> ArmSums {
    match stats.get(&(index, variant.to_owned())) {
        Some(s) => ArmSums {
            n: s.stats.n,
            sum: s.stats.sum,
            sum_sq: s.stats.sum_sq,
            covariate: s.covariate,
        },
        None => ArmSums {
            n: 0,
            sum: 0.0,
            sum_sq: 0.0,
            covariate: None,
        },
    }
}

fn method(settings: &AnalysisSettings) -> Method {
    let alpha = settings.alpha();
    match settings.engine() {
        Engine::Bayesian => {
            let prior = settings.prior();
            Method::Bayesian {
                alpha,
                prior: stats::Prior {
                    proper: prior.proper,
                    mean: prior.mean,
                    variance: prior.variance,
                },
            }
        }
        Engine::Frequentist if settings.sequential() => Method::Sequential {
            alpha,
            tuning: f64::from(settings.sequential_tuning()),
        },
        Engine::Frequentist => Method::Fixed { alpha },
    }
}

/// Summaries, analyses, pre-exposure balance and power; verdicts come after the correction.
fn analyse_metric(
    index: usize,
    attached: &AttachedMetric,
    stats: &MetricStats,
    cx: &Context<'_>,
) -> MetricResult {
    let kind = metric_kind(attached.metric.metric_type);
    let definition = &attached.metric.definition;
    let numbers = |variant: &str| stats.get(&(index, variant.to_owned())).map(|s| &s.kinds);
    let ratio = attached.metric.metric_type == MetricType::Ratio;
    let is_quantile = attached.metric.aggregation == Aggregation::Quantile;
    let summaries = cx
        .variants
        .iter()
        .map(|v| {
            let mut summary = summary(&v.key, &arm_of(stats, index, &v.key).metric(), kind);
            summary.quantile = quantile_of(stats, index, &v.key);
            let numbers = numbers(&v.key);
            summary.funnel_steps = funnel_capping::funnel_steps(
                definition,
                numbers.map_or(&[][..], |k| &k.step_reached),
            );
            summary.capped_identities = definition
                .capping
                .map(|_| numbers.map_or(0, |k| k.capped_identities));
            match ratio {
                true => ratio_summary(summary, &ratio_arm_of(stats, index, &v.key)),
                false => summary,
            }
        })
        .collect();
    let capping = funnel_capping::cap_values(
        definition,
        cx.variants.iter().filter_map(|v| numbers(&v.key)),
    );
    let control = arm_of(stats, index, &cx.policy.control_variant);
    let spec = Spec {
        kind,
        method: method(cx.settings),
        cuped: cx.settings.cuped(),
        direction: good_direction(attached.metric.direction),
    };
    let comparisons = cx
        .variants
        .iter()
        .filter(|v| v.key != cx.policy.control_variant)
        .map(|v| {
            let treatment = arm_of(stats, index, &v.key);
            if is_quantile {
                return quantile_comparison(&v.key, stats, index, cx, &spec);
            }
            // RATIO metrics: the delta method, and no power (GrowthBook defines none for them).
            let analysis = match ratio {
                true => stats::analyze_ratio(
                    &ratio_arm_of(stats, index, &cx.policy.control_variant),
                    &ratio_arm_of(stats, index, &v.key),
                    &spec,
                ),
                false => stats::analyze(&control, &treatment, &spec),
            }
            .ok();
            let power = (attached.attachment.role == MetricRole::Primary && !ratio)
                .then(|| power_of(&control, &treatment, kind, cx))
                .flatten();
            VariantComparison {
                variant: v.key.clone(),
                comparison: None,
                analysis,
                corrected: None,
                verdict: stats::Verdict::NotEnoughData,
                power,
                pre_exposure_p_value: stats::pre_exposure_p_value(&control, &treatment, kind)
                    .ok()
                    .flatten(),
            }
        })
        .collect();
    MetricResult {
        experiment_metric_id: attached.attachment.id.clone(),
        metric_id: attached.metric.id.clone(),
        metric_name: Some(attached.metric.name.clone()),
        role: Some(attached.attachment.role),
        metric_version: attached.attachment.metric_version,
        variants: summaries,
        comparisons,
        capping,
    }
}

fn quantile_of(stats: &MetricStats, index: usize, variant: &str) -> Option<stats::QuantileStats> {
    stats.get(&(index, variant.to_owned()))?.quantile
}

/// A QUANTILE metric's comparison: the quantiles' difference (`stats::analyze_quantile`), no
/// power (the power formulas are for means) and no covariate.
fn quantile_comparison(
    variant: &str,
    stats: &MetricStats,
    index: usize,
    cx: &Context<'_>,
    spec: &Spec,
) -> VariantComparison {
    let control = quantile_of(stats, index, &cx.policy.control_variant);
    let treatment = quantile_of(stats, index, variant);
    let analysis = control
        .zip(treatment)
        .and_then(|(c, t)| stats::analyze_quantile(&c, &t, spec).ok());
    VariantComparison {
        variant: variant.to_owned(),
        comparison: None,
        analysis,
        corrected: None,
        verdict: stats::Verdict::NotEnoughData,
        power: None,
        pre_exposure_p_value: None,
    }
}

fn summary(variant: &str, s: &VariantStats, kind: MetricKind) -> VariantSummary {
    VariantSummary {
        variant: variant.to_owned(),
        n: s.n,
        sum: s.sum.is_finite().then_some(s.sum),
        sum_sq: s.sum_sq.is_finite().then_some(s.sum_sq),
        mean: s.mean(),
        variance: s.variance(kind),
        funnel_steps: Vec::new(),
        capped_identities: None,
        denominator_sum: None,
        quantile: None,
    }
}

/// A RATIO metric's summary: the ratio of the totals as its mean, the delta method's variance.
fn ratio_summary(numerator: VariantSummary, arm: &RatioArm) -> VariantSummary {
    let sum = arm.denominator.sum;
    VariantSummary {
        mean: arm.mean(),
        variance: arm.variance(),
        denominator_sum: sum.is_finite().then_some(sum),
        ..numerator
    }
}

/// A RATIO metric's arm (an empty one when the variant has no identity with a denominator > 0).
fn ratio_arm_of(stats: &MetricStats, index: usize, variant: &str) -> RatioArm {
    let found = stats.get(&(index, variant.to_owned()));
    RatioArm {
        numerator: arm_of(stats, index, variant).metric(),
        denominator: found
            .and_then(|s| s.denominator)
            .unwrap_or(DenominatorSums {
                sum: 0.0,
                sum_sq: 0.0,
                sum_product: 0.0,
            }),
    }
}

/// The relative MDE of this comparison now, and the days until it reaches the target.
fn power_of(
    control: &ArmSums,
    treatment: &ArmSums,
    kind: MetricKind,
    cx: &Context<'_>,
) -> Option<Power> {
    let c = control.metric();
    let baseline = Baseline {
        mean: c.mean()?,
        variance: c.variance(kind)?,
    };
    let design = Design {
        alpha: cx.settings.alpha(),
        power: DEFAULT_POWER,
        variants: 2,
        sequential_tuning: (cx.settings.engine() == Engine::Frequentist
            && cx.settings.sequential())
        .then(|| f64::from(cx.settings.sequential_tuning())),
    };
    let identities = control.n.saturating_add(treatment.n);
    let per_day = identities as f64 / cx.days_running;
    let mde = power::mde(&baseline, identities, &design).ok()?;
    let days_to_target = power::days_to_target(
        &baseline,
        identities,
        per_day,
        cx.settings.target_mde(),
        &design,
    )
    .ok()?;
    Some(Power {
        mde,
        identities_per_day: per_day,
        days_to_target,
    })
}

/// Adjusts the family's p-values (absolute and relative scales separately) and backs the
/// intervals out of them.
fn correct_family(results: &mut [MetricResult], cx: &Context<'_>) {
    let method = match (cx.settings.engine(), cx.settings.correction()) {
        (Engine::Bayesian, _) | (_, Correction::None) => return,
        (_, Correction::HolmBonferroni) => correction::Correction::HolmBonferroni,
        (_, Correction::BenjaminiHochberg) => correction::Correction::BenjaminiHochberg,
    };
    let alpha = cx.settings.alpha();
    // (metric, comparison) of every member of the family with an absolute p-value.
    let members: Vec<(usize, usize)> = results
        .iter()
        .enumerate()
        .filter(|(_, m)| m.role != Some(MetricRole::Guardrail))
        .flat_map(|(i, m)| {
            m.comparisons
                .iter()
                .enumerate()
                .filter(|(_, c)| absolute_p(c.analysis.as_ref()).is_some())
                .map(move |(j, _)| (i, j))
        })
        .collect();
    let raw: Vec<f64> = members
        .iter()
        .filter_map(|&(i, j)| absolute_p(results[i].comparisons[j].analysis.as_ref()))
        .collect();
    let Ok(adjusted) = correction::adjust(&raw, method) else {
        return;
    };
    let relative_raw: Vec<(usize, f64)> = members
        .iter()
        .enumerate()
        .filter_map(|(k, &(i, j))| {
            let relative = results[i].comparisons[j].analysis?.adjusted.relative?;
            Some((k, relative.p_value?))
        })
        .collect();
    let relative_adjusted = correction::adjust(
        &relative_raw.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        method,
    )
    .unwrap_or_default();
    for (k, &(i, j)) in members.iter().enumerate() {
        let comparison = &mut results[i].comparisons[j];
        let Some(analysis) = comparison.analysis else {
            continue;
        };
        let absolute = analysis.adjusted.absolute;
        let relative = relative_raw
            .iter()
            .position(|(member, _)| *member == k)
            .and_then(|at| relative_adjusted.get(at).copied());
        let interval = |estimate: f64, lower: f64, upper: f64, p: f64| {
            adjusted_interval(estimate, (lower, upper), p, alpha)
                .unwrap_or(AdjustedInterval::Unbounded)
        };
        comparison.corrected = Some(Corrected {
            p_value: adjusted[k],
            absolute: interval(
                absolute.estimate,
                absolute.ci_lower,
                absolute.ci_upper,
                adjusted[k],
            ),
            relative_p_value: relative,
            relative: analysis
                .adjusted
                .relative
                .zip(relative)
                .map(|(r, p)| interval(r.estimate, r.ci_lower, r.ci_upper, p)),
        });
    }
}

fn absolute_p(analysis: Option<&Analysis>) -> Option<f64> {
    analysis?.adjusted.absolute.p_value
}

fn judge_metric(
    index: usize,
    result: &mut MetricResult,
    attached: &AttachedMetric,
    stats: &MetricStats,
    cx: &Context<'_>,
) {
    let kind = metric_kind(attached.metric.metric_type);
    let control = arm_of(stats, index, &cx.policy.control_variant).metric();
    for comparison in &mut result.comparisons {
        let treatment = arm_of(stats, index, &comparison.variant).metric();
        let evidence = comparison.analysis.map(|a| {
            let absolute = a.adjusted.absolute;
            match (cx.settings.engine(), comparison.corrected) {
                (Engine::Bayesian, _) => {
                    Evidence::from_interval(absolute.estimate, absolute.ci_lower, absolute.ci_upper)
                }
                (_, Some(corrected)) => Evidence::from_p_value(
                    absolute.estimate,
                    corrected.p_value,
                    cx.settings.alpha(),
                ),
                (_, None) => Evidence::from_p_value(
                    absolute.estimate,
                    absolute.p_value.unwrap_or(f64::NAN),
                    cx.settings.alpha(),
                ),
            }
        });
        comparison.verdict = stats::judge(
            &control,
            &treatment,
            kind,
            evidence,
            expectation(attached.attachment.expected_direction),
            good_direction(attached.metric.direction),
            &cx.policy.thresholds,
        );
    }
}

fn metric_kind(metric_type: MetricType) -> MetricKind {
    match metric_type {
        // A RATIO metric's numerator is a numeric total; its own variance is the delta method's.
        MetricType::Numeric | MetricType::Ratio => MetricKind::Numeric,
        MetricType::Conversion => MetricKind::Conversion,
    }
}

fn expectation(direction: ExpectedDirection) -> Expectation {
    match direction {
        ExpectedDirection::Increase => Expectation::Increase,
        ExpectedDirection::Decrease => Expectation::Decrease,
        ExpectedDirection::NotIncrease => Expectation::NotIncrease,
        ExpectedDirection::NotDecrease => Expectation::NotDecrease,
    }
}

fn good_direction(direction: Direction) -> GoodDirection {
    match direction {
        Direction::Up => GoodDirection::Up,
        Direction::Down => GoodDirection::Down,
        Direction::Informational => GoodDirection::Informational,
    }
}
