#!/usr/bin/env python3
"""Generates tests/stats/analysis.json: reference results of GrowthBook gbstats 0.8.0 for
`lift::stats::analyze` (`tests/stats_analysis.rs`): CUPED (`RegressionAdjustedStatistic`,
`compute_theta`), fixed-horizon (`TwoSidedTTest`), sequential (`SequentialTwoSidedTTest`) and
Bayesian (`EffectBayesianABTest` with a flat or proper `GaussianPrior`) tests, on proportion and
mean metrics, small and large samples, 2 and 3 arms.

    python3 -m venv /tmp/gbstats && /tmp/gbstats/bin/pip install gbstats==0.8.0 scipy
    /tmp/gbstats/bin/python tests/stats/analysis.py > tests/stats/analysis.json

Arms are simulated per identity (numpy, fixed seed) and reduced to the sums lift's metrics query
returns: n, Σy, Σy², and for the pre-exposure covariate Σx, Σx², Σxy. Sums are written with
`repr` precision, so Rust reads exactly the doubles gbstats saw.

Two-arm cases call gbstats' test classes directly, as gbstats' own runner does
(`gbstats.get_configured_test`); three-arm cases go through its whole pipeline
(`process_single_metric`), which compares each variation with the baseline and pools CUPED's θ
over those two arms only. `variance_reduction` is `1 − (σ_adjusted / σ_unadjusted)²` of the
absolute difference, from the `uplift.stddev` gbstats reports for each; gbstats 0.8.0 has no
such field itself.
"""

import json
import math
import sys

import numpy as np

import gbstats
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.gbstats import process_single_metric
from gbstats.models.settings import AnalysisSettingsForStatsEngine, MetricSettingsForStatsEngine
from gbstats.models.statistics import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    compute_theta,
)

SEED = 20261130

METHODS = [
    {"type": "fixed", "alpha": 0.05},
    {"type": "fixed", "alpha": 0.01},
    {"type": "fixed", "alpha": 0.2},
    {"type": "sequential", "alpha": 0.05, "tuning": 5000.0},
    {"type": "sequential", "alpha": 0.1, "tuning": 1000.0},
    {"type": "sequential", "alpha": 0.01, "tuning": 20000.0},
    {"type": "bayesian", "alpha": 0.05, "prior": {"proper": False, "mean": 0.0, "variance": 0.09}},
    {"type": "bayesian", "alpha": 0.05, "prior": {"proper": True, "mean": 0.0, "variance": 0.09}},
    {"type": "bayesian", "alpha": 0.1, "prior": {"proper": True, "mean": 0.02, "variance": 0.0025}},
]


def simulate(rng, kind, n, effect, correlation, shift=0.0):
    """One arm's sums: a covariate x and a metric y correlated with it, plus `effect`."""
    if kind == "conversion":
        x = (rng.random(n) < 0.3).astype(float)
        p = np.clip(0.1 + correlation * 0.5 * x + effect, 0.0, 1.0)
        y = (rng.random(n) < p).astype(float)
    else:
        x = rng.gamma(2.0, 5.0, n) + shift
        y = 3.0 + correlation * 0.8 * x + rng.normal(0.0, 4.0, n) + effect + shift
    return {
        "n": int(n),
        "sum": float(y.sum()),
        "sum_sq": float((y * y).sum()),
        "covariate": {
            "sum": float(x.sum()),
            "sum_sq": float((x * x).sum()),
            "sum_product": float((x * y).sum()),
        },
    }


def base_statistic(kind, n, total, total_sq):
    if kind == "conversion":
        return ProportionStatistic(n=n, sum=total)
    return SampleMeanStatistic(n=n, sum=total, sum_squares=total_sq)


def statistic(kind, arm, cuped):
    post = base_statistic(kind, arm["n"], arm["sum"], arm["sum_sq"])
    if not cuped:
        return post
    cov = arm["covariate"]
    pre = base_statistic(kind, arm["n"], cov["sum"], cov["sum_sq"])
    return RegressionAdjustedStatistic(
        n=arm["n"],
        post_statistic=post,
        pre_statistic=pre,
        post_pre_sum_of_products=cov["sum_product"],
        theta=0,
    )


def run_test(kind, method, direction, control, treatment, cuped, difference_type):
    """The gbstats test `gbstats.get_configured_test` would build, on fresh statistics (the
    test sets θ on them)."""
    a, b = statistic(kind, control, cuped), statistic(kind, treatment, cuped)
    common = {"difference_type": difference_type, "alpha": method["alpha"]}
    if method["type"] == "fixed":
        test = TwoSidedTTest(a, b, FrequentistConfig(**common))
    elif method["type"] == "sequential":
        config = SequentialConfig(**common, sequential_tuning_parameter=method["tuning"])
        test = SequentialTwoSidedTTest(a, b, config)
    else:
        prior = method["prior"]
        config = EffectBayesianConfig(
            **common,
            inverse=direction == "down",
            prior_effect=GaussianPrior(
                mean=prior["mean"], variance=prior["variance"], proper=prior["proper"]
            ),
            prior_type="relative",
        )
        test = EffectBayesianABTest(a, b, config)
    result = test.compute_result()
    if result.error_message is not None:
        raise ValueError(f"gbstats refused {kind} {method}: {result.error_message}")
    out = {
        "estimate": float(result.expected),
        "ci_lower": float(result.ci[0]),
        "ci_upper": float(result.ci[1]),
        "p_value": None,
        "chance_to_win": None,
        "risk": None,
    }
    if method["type"] == "bayesian":
        out["chance_to_win"] = float(result.chance_to_win)
        out["risk"] = {"control": float(result.risk[0]), "treatment": float(result.risk[1])}
    else:
        out["p_value"] = float(result.p_value)
    return out, float(result.uplift.stddev)


def theta_of(kind, control, treatment):
    value = compute_theta(statistic(kind, control, True), statistic(kind, treatment, True))
    return None if value == 0 else float(value)


def comparison(kind, method, direction, control, treatment, cuped):
    unadjusted = {
        scale: run_test(kind, method, direction, control, treatment, False, scale)[0]
        for scale in ["absolute", "relative"]
    }
    result = {"theta": None, "variance_reduction": None, "unadjusted": unadjusted}
    if cuped:
        result["theta"] = theta_of(kind, control, treatment)
    if result["theta"] is None:
        result["adjusted"] = unadjusted
        return result
    result["adjusted"] = {
        scale: run_test(kind, method, direction, control, treatment, True, scale)[0]
        for scale in ["absolute", "relative"]
    }
    # The data's standard error of the absolute difference (a Bayesian test's `uplift.stddev`
    # is the posterior's, which a proper prior narrows).
    fixed = {"type": "fixed", "alpha": 0.05}
    adjusted = run_test(kind, fixed, direction, control, treatment, True, "absolute")[1]
    raw = run_test(kind, fixed, direction, control, treatment, False, "absolute")[1]
    result["variance_reduction"] = 1.0 - (adjusted / raw) ** 2
    return result


def two_arm_case(name, kind, method, direction, control, treatment, cuped):
    return {
        "name": name,
        "kind": kind,
        "method": method,
        "direction": direction,
        "cuped": cuped,
        "control": control,
        "treatments": [treatment],
        "comparisons": [comparison(kind, method, direction, control, treatment, cuped)],
    }


def pipeline(kind, method, direction, arms, cuped, difference_type):
    """gbstats' own runner over three arms: one result per variation after the baseline."""
    rows = []
    for i, arm in enumerate(arms):
        cov = arm["covariate"]
        rows.append(
            {
                "dimension": "All",
                "variation": str(i),
                "users": arm["n"],
                "count": arm["n"],
                "main_sum": arm["sum"],
                "main_sum_squares": arm["sum_sq"],
                "covariate_sum": cov["sum"],
                "covariate_sum_squares": cov["sum_sq"],
                "main_covariate_sum_product": cov["sum_product"],
            }
        )
    metric_type = "binomial" if kind == "conversion" else "count"
    prior = method.get("prior", {"proper": False, "mean": 0.0, "variance": 0.09})
    metric = MetricSettingsForStatsEngine(
        id="m",
        name="m",
        statistic_type="mean_ra" if cuped else "mean",
        main_metric_type=metric_type,
        covariate_metric_type=metric_type if cuped else None,
        inverse=direction == "down",
        prior_proper=prior["proper"],
        prior_mean=prior["mean"],
        prior_stddev=math.sqrt(prior["variance"]),
    )
    analysis = AnalysisSettingsForStatsEngine(
        var_names=[f"v{i}" for i in range(len(arms))],
        var_ids=[str(i) for i in range(len(arms))],
        weights=[1.0 / len(arms)] * len(arms),
        stats_engine="bayesian" if method["type"] == "bayesian" else "frequentist",
        sequential_testing_enabled=method["type"] == "sequential",
        sequential_tuning_parameter=method.get("tuning", 5000.0),
        difference_type=difference_type,
        alpha=method["alpha"],
    )
    result = process_single_metric(rows=rows, metric=metric, analyses=[analysis])
    variations = result.analyses[0].dimensions[0].variations[1:]
    out = []
    for v in variations:
        if v.errorMessage is not None:
            raise ValueError(f"gbstats refused {kind} {method}: {v.errorMessage}")
        bayesian = method["type"] == "bayesian"
        out.append(
            {
                "estimate": float(v.expected),
                "ci_lower": float(v.ci[0]),
                "ci_upper": float(v.ci[1]),
                "p_value": None if bayesian else float(v.pValue),
                "chance_to_win": float(v.chanceToWin) if bayesian else None,
                "risk": {"control": float(v.risk[0]), "treatment": float(v.risk[1])}
                if bayesian
                else None,
            }
        )
    return out


def three_arm_case(name, kind, method, direction, arms, cuped):
    # The runner's prior variance is its prior standard deviation squared; record that double.
    # It does not pass α to the Bayesian test either, which then keeps its default 0.05.
    if method["type"] == "bayesian":
        prior = dict(method["prior"])
        prior["variance"] = math.sqrt(prior["variance"]) ** 2
        method = {**method, "alpha": 0.05, "prior": prior}
    absolute = pipeline(kind, method, direction, arms, cuped, "absolute")
    relative = pipeline(kind, method, direction, arms, cuped, "relative")
    raw_absolute = pipeline(kind, method, direction, arms, False, "absolute")
    raw_relative = pipeline(kind, method, direction, arms, False, "relative")
    comparisons = []
    for i, treatment in enumerate(arms[1:]):
        theta = theta_of(kind, arms[0], treatment) if cuped else None
        comparisons.append(
            {
                "theta": theta,
                "variance_reduction": None,
                "unadjusted": {"absolute": raw_absolute[i], "relative": raw_relative[i]},
                "adjusted": {"absolute": absolute[i], "relative": relative[i]},
            }
        )
    return {
        "name": name,
        "kind": kind,
        "method": method,
        "direction": direction,
        "cuped": cuped,
        "control": arms[0],
        "treatments": arms[1:],
        "comparisons": comparisons,
    }


def method_label(method):
    if method["type"] == "fixed":
        return f"fixed α={method['alpha']}"
    if method["type"] == "sequential":
        return f"sequential α={method['alpha']} tuning={method['tuning']:g}"
    prior = method["prior"]
    shape = f"proper({prior['mean']}, {prior['variance']})" if prior["proper"] else "flat"
    return f"bayesian α={method['alpha']} {shape}"


def cases():
    rng = np.random.default_rng(SEED)
    datasets = []
    for kind in ["numeric", "conversion"]:
        for size, (lo, hi) in [("small", (20, 100)), ("large", (100_000, 1_000_000))]:
            for effect_name, effect in [("no effect", 0.0), ("effect", 0.03)]:
                n_a, n_b = (int(rng.integers(lo, hi)) for _ in range(2))
                control = simulate(rng, kind, n_a, 0.0, 1.0)
                treatment = simulate(rng, kind, n_b, effect, 1.0)
                datasets.append((f"{kind} {size} {effect_name}", kind, control, treatment))
    # A numeric metric with a negative mean (the relative lift divides by it).
    datasets.append(
        (
            "numeric negative mean",
            "numeric",
            simulate(rng, "numeric", 5000, 0.0, 1.0, shift=-40.0),
            simulate(rng, "numeric", 5100, -0.4, 1.0, shift=-40.0),
        )
    )
    for label, kind, control, treatment in datasets:
        for i, method in enumerate(METHODS):
            direction = "down" if i % 2 else "up"
            for cuped in [False, True]:
                name = f"{label} · {method_label(method)} · {direction} · cuped {cuped}"
                yield two_arm_case(name, kind, method, direction, control, treatment, cuped)

    # A covariate without variance (no pre-period activity at all): θ is 0, CUPED falls back.
    for kind in ["numeric", "conversion"]:
        control = simulate(rng, kind, 400, 0.0, 1.0)
        treatment = simulate(rng, kind, 420, 0.05, 1.0)
        for arm in (control, treatment):
            arm["covariate"] = {"sum": 0.0, "sum_sq": 0.0, "sum_product": 0.0}
        for method in [METHODS[0], METHODS[3], METHODS[7]]:
            name = f"{kind} covariate without variance · {method_label(method)}"
            yield two_arm_case(name, kind, method, "up", control, treatment, True)

    # Three arms: each treatment against control, θ pooled per pair (gbstats' whole pipeline).
    for kind in ["numeric", "conversion"]:
        for size, n in [("small", 60), ("large", 200_000)]:
            arms = [
                simulate(rng, kind, n + int(rng.integers(0, n // 10)), effect, 1.0)
                for effect in [0.0, 0.02, -0.03]
            ]
            for method in [METHODS[0], METHODS[4], METHODS[6], METHODS[8]]:
                for cuped in [False, True]:
                    direction = "down" if method["type"] == "bayesian" and cuped else "up"
                    name = f"3 arms {kind} {size} · {method_label(method)} · {direction} · cuped {cuped}"
                    yield three_arm_case(name, kind, method, direction, arms, cuped)


def main():
    document = {
        "generator": "tests/stats/analysis.py",
        "reference": f"gbstats {gbstats.__version__} TwoSidedTTest, SequentialTwoSidedTTest, "
        "EffectBayesianABTest, RegressionAdjustedStatistic",
        "cases": list(cases()),
    }
    json.dump(document, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
