#!/usr/bin/env python3
"""Generates tests/stats/quantile.json: reference results of GrowthBook gbstats 0.8.0 for
`lift::stats::analyze_quantile` (`tests/stats_quantile.rs`): QUANTILE metrics over identities
(`QuantileStatistic`) and over events (`QuantileClusteredStatistic`, identities as clusters),
under the fixed-horizon, sequential and Bayesian tests, on both scales.

    python3 -m venv /tmp/gbstats && /tmp/gbstats/bin/pip install gbstats==0.8.0 scipy
    /tmp/gbstats/bin/python tests/stats/quantile.py > tests/stats/quantile.json

Arms are simulated per identity (numpy, fixed seed) and reduced to what lift's metrics query
returns for a quantile (`src/sql/quantile.rs`): the number of values n, GrowthBook's n* (the
largest of 100·2^k below n, else 100), the quantile and its bounds at ν ∓ z·√(ν(1 − ν)/n*) by
linear interpolation between order statistics, and for event quantiles the clusters' sums of
Sᵢ (values at most the quantile) and Nᵢ (values). Numbers are written with `repr` precision.

Arms with too few values for gbstats (its `_has_zero_variance`) are recorded as refused: gbstats
answers with an uninformative default there, lift with an error.
"""

import json
import math
import sys

import numpy as np
import scipy.stats

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import QuantileClusteredStatistic, QuantileStatistic

SEED = 20261130
Z = scipy.stats.norm.ppf(0.975)
N_STAR_GRID = [100 * 2**k for k in range(20)]

METHODS = [
    {"type": "fixed", "alpha": 0.05},
    {"type": "sequential", "alpha": 0.05, "tuning": 5000.0},
    {"type": "bayesian", "alpha": 0.05, "prior": {"proper": False, "mean": 0.0, "variance": 0.09}},
    {"type": "bayesian", "alpha": 0.1, "prior": {"proper": True, "mean": 0.02, "variance": 0.0025}},
]


def at(values, level):
    """Linear interpolation between order statistics, as the query computes it."""
    h = (len(values) - 1) * level
    lo = math.floor(h)
    above = min(lo + 1, len(values) - 1)
    return values[lo] + (h - lo) * (values[above] - values[lo])


def quantile_arm(values, level):
    values = sorted(float(v) for v in values)
    n = len(values)
    n_star = max([g for g in N_STAR_GRID if g < n], default=100)
    spread = math.sqrt(level * (1 - level) / n_star)
    return {
        "n": n,
        "n_star": n_star,
        "level": level,
        "quantile": at(values, level),
        "lower": at(values, max(level - Z * spread, 0.00000001)),
        "upper": at(values, min(level + Z * spread, 0.99999999)),
        "clusters": None,
    }


def identities_arm(rng, n, level, shift):
    """Each identity's summed value (some identities without purchases have 0)."""
    values = rng.gamma(2.0, 20.0 + shift, n) * (rng.random(n) < 0.8)
    return quantile_arm(values, level)


def events_arm(rng, identities, level, shift):
    """Every event's value; identities have 0 to several events."""
    counts = rng.poisson(1.6, identities)
    per_identity = [rng.lognormal(3.0 + shift, 0.7, c) for c in counts]
    arm = quantile_arm(np.concatenate(per_identity), level)
    q = arm["quantile"]
    s = np.array([float((v <= q).sum()) for v in per_identity])
    c = counts.astype(float)
    arm["clusters"] = {
        "clusters": int(identities),
        "main_sum": float(s.sum()),
        "main_sum_sq": float((s * s).sum()),
        "den_sum": float(c.sum()),
        "den_sum_sq": float((c * c).sum()),
        "main_den_sum": float((s * c).sum()),
    }
    return arm


def statistic(arm):
    common = dict(
        n=arm["n"],
        n_star=arm["n_star"],
        nu=arm["level"],
        quantile_hat=arm["quantile"],
        quantile_lower=arm["lower"],
        quantile_upper=arm["upper"],
    )
    c = arm["clusters"]
    if c is None:
        return QuantileStatistic(**common)
    return QuantileClusteredStatistic(
        **common,
        main_sum=c["main_sum"],
        main_sum_squares=c["main_sum_sq"],
        denominator_sum=c["den_sum"],
        denominator_sum_squares=c["den_sum_sq"],
        main_denominator_sum_product=c["main_den_sum"],
        n_clusters=c["clusters"],
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
        return None
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


def case(name, method, direction, control, treatment):
    effects = {
        scale: run_test(method, direction, control, treatment, scale)
        for scale in ["absolute", "relative"]
    }
    refused = any(e is None for e in effects.values())
    return {
        "name": name,
        "method": method,
        "direction": direction,
        "control": control,
        "treatment": treatment,
        "variances": [float(statistic(control).variance), float(statistic(treatment).variance)],
        "refused": refused,
        "effects": None if refused else effects,
    }


def main():
    rng = np.random.default_rng(SEED)
    arms = [
        ("identities p50 n≈300", lambda s: identities_arm(rng, 300 + s, 0.5, 5.0 * s)),
        ("identities p90 n≈2000", lambda s: identities_arm(rng, 2000 + 7 * s, 0.9, 3.0 * s)),
        ("identities p99 n≈40000", lambda s: identities_arm(rng, 40000 + 11 * s, 0.99, 1.0 * s)),
        ("events p90 ≈150 identities", lambda s: events_arm(rng, 150 + s, 0.9, 0.1 * s)),
        ("events p50 ≈5000 identities", lambda s: events_arm(rng, 5000 + 3 * s, 0.5, 0.05 * s)),
        ("events p95 ≈800 identities", lambda s: events_arm(rng, 800, 0.95, 0.0)),
    ]
    cases = []
    for label, make in arms:
        control, treatment = make(0), make(1)
        for method in METHODS:
            for direction in ["up", "down"] if method["type"] == "bayesian" else ["up"]:
                cases.append(case(f"{label} {method['type']} {direction}", method, direction,
                                  control, treatment))
    # Too few values at the 90th percentile (gbstats: n ≤ z²·9), and a constant arm.
    few = quantile_arm([1.0, 2.0, 3.0] * 10, 0.9)
    enough = identities_arm(rng, 500, 0.9, 0.0)
    cases.append(case("too few values at p90", METHODS[0], "up", few, enough))
    flat = quantile_arm([4.0] * 60, 0.5)
    cases.append(case("constant arms", METHODS[0], "up", flat, flat))
    json.dump(
        {"reference": "gbstats 0.8.0 QuantileStatistic / QuantileClusteredStatistic",
         "cases": cases},
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
