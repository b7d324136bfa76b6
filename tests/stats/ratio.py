#!/usr/bin/env python3
"""Generates tests/stats/ratio.json: reference results of GrowthBook gbstats 0.8.0 for RATIO
metrics (`RatioStatistic`: Σm/Σd per arm, its variance by the delta method with the
numerator–denominator covariance), read by `tests/stats_ratio.rs` (`lift::stats::analyze_ratio`)
and by the API test `tests/api/results/ratio.rs`.

    python3 -m venv /tmp/gbstats && /tmp/gbstats/bin/pip install gbstats==0.8.0 scipy
    /tmp/gbstats/bin/python tests/stats/ratio.py > tests/stats/ratio.json

`cases`: simulated arms (numpy, fixed seed), per identity a denominator d > 0 and a numerator m
correlated with it, reduced to the sums lift's metrics query returns: n, Σm, Σm², Σd, Σd², Σm·d;
each compared under every method of `analysis.py` (fixed, sequential, Bayesian with a flat and a
proper prior), on the absolute and the relative scale, through gbstats' own test classes as
`gbstats.get_configured_test` builds them. gbstats 0.8.0 has no regression-adjusted ratio
statistic: CUPED does not apply to ratios.

`api`: the hand-made event set of `tests/api/results/ratio.rs`, from the same closed-form
per-identity rules (`sessions`, `purchases`, …): the arms under EXCLUDE and FIRST_TOUCH and the
comparison under each analysis setting the test uses. Sums are written with `repr` precision.
"""

import json
import os
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
from gbstats.models.statistics import RatioStatistic, SampleMeanStatistic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analysis import METHODS, method_label  # noqa: E402

SEED = 20261131


def statistic(arm):
    n = arm["n"]
    return RatioStatistic(
        n=n,
        m_statistic=SampleMeanStatistic(n=n, sum=arm["sum"], sum_squares=arm["sum_sq"]),
        d_statistic=SampleMeanStatistic(
            n=n, sum=arm["den_sum"], sum_squares=arm["den_sum_sq"]
        ),
        m_d_sum_of_products=arm["num_den_sum"],
    )


def run_test(method, direction, control, treatment, difference_type):
    a, b = statistic(control), statistic(treatment)
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
        raise ValueError(f"gbstats refused {method}: {result.error_message}")
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
    return out


def comparison(method, direction, control, treatment):
    return {
        scale: run_test(method, direction, control, treatment, scale)
        for scale in ["absolute", "relative"]
    }


def moments(arm):
    s = statistic(arm)
    return {"mean": float(s.mean), "variance": float(s.variance)}


def sums(pairs):
    """The per-variant sums of (numerator, denominator) pairs whose denominator is > 0."""
    pairs = [(float(m), float(d)) for m, d in pairs if d > 0]
    return {
        "n": len(pairs),
        "sum": float(sum(m for m, _ in pairs)),
        "sum_sq": float(sum(m * m for m, _ in pairs)),
        "den_sum": float(sum(d for _, d in pairs)),
        "den_sum_sq": float(sum(d * d for _, d in pairs)),
        "num_den_sum": float(sum(m * d for m, d in pairs)),
    }


def simulate(rng, n, effect, kind, base=4.0):
    """One arm: d sessions (COUNT, ≥ 1) or a positive amount (SUM); m per unit of d, plus noise."""
    if kind == "count":
        d = 1 + rng.poisson(2.0, n)
    else:
        d = rng.gamma(2.0, 3.0, n) + 0.01
    m = d * (base + effect) + rng.normal(0.0, 3.0, n) * np.sqrt(d)
    return sums(zip(m.tolist(), d.tolist()))


def cases():
    rng = np.random.default_rng(SEED)
    datasets = []
    for kind in ["count", "sum"]:
        for size, (lo, hi) in [("small", (20, 100)), ("large", (100_000, 500_000))]:
            for effect_name, effect in [("no effect", 0.0), ("effect", 0.15)]:
                n_a, n_b = (int(rng.integers(lo, hi)) for _ in range(2))
                datasets.append(
                    (
                        f"{kind} denominator {size} {effect_name}",
                        simulate(rng, n_a, 0.0, kind),
                        simulate(rng, n_b, effect, kind),
                    )
                )
    # A negative ratio (the relative lift divides by it).
    control = simulate(rng, 3000, 0.0, "count", base=-6.0)
    treatment = simulate(rng, 3100, -0.3, "count", base=-6.0)
    datasets.append(("negative ratio", control, treatment))
    for label, control, treatment in datasets:
        for i, method in enumerate(METHODS):
            direction = "down" if i % 2 else "up"
            yield {
                "name": f"{label} · {method_label(method)} · {direction}",
                "method": method,
                "direction": direction,
                "control": control,
                "treatment": treatment,
                "moments": {"control": moments(control), "treatment": moments(treatment)},
                "comparison": comparison(method, direction, control, treatment),
            }


# The API test's event set: identity `i` of arm `a` (0 is the control), its rules.
SIZE = 80
MULTIPLE = 8  # identities exposed to both variants, `multi-k` first to arm k % 2
VARIANTS = ["control", "treatment"]


def sessions(i, a):
    """Sessions in the window (the denominator, COUNT); the treatment brings a few more."""
    return (i * 7 + a * 3) % 4 + (1 if a > 0 and i % 5 == 0 else 0)


def purchases(i, a):
    """Values of the EUR purchases in the window (the numerator, SUM of value)."""
    return [10 + (i * 13 + j * 7) % 23 + 2 * a for j in range((i * 5 + a) % 3)]


def pair(i, a):
    return (sum(purchases(i, a)), sessions(i, a))


def api_arms(handling):
    pairs = {v: [pair(i, a) for i in range(SIZE)] for a, v in enumerate(VARIANTS)}
    if handling == "FIRST_TOUCH":
        for k in range(MULTIPLE):
            pairs[VARIANTS[k % 2]].append(pair(100 + k, k % 2))
    return {v: sums(p) for v, p in pairs.items()}


API_SETTINGS = [
    # (name, handling, GraphQL ExperimentAnalysisInput, gbstats method)
    ("exclude_fixed", "EXCLUDE", {"cuped": False}, {"type": "fixed", "alpha": 0.05}),
    ("first_touch_fixed_cuped", "FIRST_TOUCH", {"cuped": True}, {"type": "fixed", "alpha": 0.05}),
    (
        "exclude_bayesian",
        "EXCLUDE",
        {"engine": "BAYESIAN", "cuped": False},
        {"type": "bayesian", "alpha": 0.05, "prior": {"proper": False, "mean": 0.0, "variance": 0.09}},
    ),
    (
        "first_touch_sequential",
        "FIRST_TOUCH",
        {"sequential": True, "sequentialTuning": 100, "alpha": 0.1, "cuped": False},
        {"type": "sequential", "alpha": 0.1, "tuning": 100.0},
    ),
]


def api():
    arms = {h: api_arms(h) for h in ["EXCLUDE", "FIRST_TOUCH"]}
    settings = []
    for name, handling, analysis, method in API_SETTINGS:
        control, treatment = (arms[handling][v] for v in VARIANTS)
        settings.append(
            {
                "name": name,
                "handling": handling,
                "analysis": analysis,
                "moments": {v: moments(arms[handling][v]) for v in VARIANTS},
                "comparison": comparison(method, "up", control, treatment),
            }
        )
    return {"size": SIZE, "multiple": MULTIPLE, "arms": arms, "settings": settings}


def main():
    document = {
        "generator": "tests/stats/ratio.py",
        "reference": f"gbstats {gbstats.__version__} RatioStatistic with TwoSidedTTest, "
        "SequentialTwoSidedTTest, EffectBayesianABTest",
        "cases": list(cases()),
        "api": api(),
    }
    json.dump(document, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
