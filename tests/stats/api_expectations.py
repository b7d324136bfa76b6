#!/usr/bin/env python3
"""Generates tests/stats/api_expectations.json: what lift's GraphQL results must say for the
hand-made event set of `tests/api/results/judged_numbers.rs`, under each analysis setting, from
GrowthBook gbstats 0.8.0 (via `analysis.py`'s `comparison`, which calls gbstats' test classes) and,
for the multiple-testing corrections, GrowthBook's formulas (`adjustPValuesHolmBonferroni`,
`adjustPValuesBenjaminiHochberg`, `getAdjustedCI` in packages/shared/src/experiments.ts) written
out below in Python.

    python3 -m venv /tmp/gbstats && /tmp/gbstats/bin/pip install gbstats==0.8.0 scipy
    /tmp/gbstats/bin/python tests/stats/api_expectations.py > tests/stats/api_expectations.json

The per-identity values come from the same closed-form rules the Rust test turns into events
(`pre_visits`, `post_visits`, `pre_purchase`, `post_purchase`); the Rust test recomputes the sums
from its event list and checks them against the `arms` written here, so both sides read the same
data. Sums are written with `repr` precision.
"""

import json
import math
import os
import sys

from scipy.stats import norm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analysis import comparison  # noqa: E402  (gbstats' tests, as lift's fixtures use them)

TWO_ARMS = {"size": 200, "variants": ["control", "treatment"]}
THREE_ARMS = {"size": 150, "variants": ["control", "blue", "green"]}

# (key, kind for gbstats, role); attached in this order.
METRICS = [
    ("conversion", "conversion", "PRIMARY"),
    ("revenue", "mean", "SECONDARY"),
    ("visits", "mean", "GUARDRAIL"),
]


# The rules: identity `i` of arm `a` (0 is the control).
def pre_visits(i, a):
    return (i * 7 + a) % 5


def post_visits(i, a):
    return pre_visits(i, a) + (i * 3 + a) % 4 + (1 if a > 0 and i % 3 == 0 else 0)


def pre_purchase(i, a):
    """Value of the one purchase before exposure, or None."""
    return 10 + i % 7 if (i * 5 + a) % 3 == 0 else None


def post_purchase(i, a):
    """Value of the one purchase after exposure, or None."""
    if pre_purchase(i, a) is not None or (i * 11 + a * 3) % 5 == 0 or (a > 0 and i % 10 < a):
        return 5 + (i * 13) % 17 + a
    return None


def values(metric, i, a):
    """(covariate x, metric y) of one identity."""
    if metric == "conversion":
        return (float(pre_purchase(i, a) is not None), float(post_purchase(i, a) is not None))
    if metric == "revenue":
        return (float(pre_purchase(i, a) or 0), float(post_purchase(i, a) or 0))
    return (float(pre_visits(i, a)), float(post_visits(i, a)))


def arm_sums(metric, a, size):
    xs, ys = zip(*(values(metric, i, a) for i in range(size)))
    return {
        "n": size,
        "sum": float(sum(ys)),
        "sum_sq": float(sum(y * y for y in ys)),
        "covariate": {
            "sum": float(sum(xs)),
            "sum_sq": float(sum(x * x for x in xs)),
            "sum_product": float(sum(x * y for x, y in zip(xs, ys))),
        },
    }


def arms(design):
    return {
        variant: {m: arm_sums(m, a, design["size"]) for m, _, _ in METRICS}
        for a, variant in enumerate(design["variants"])
    }


def holm(ps):
    """GrowthBook's adjustPValuesHolmBonferroni (stable ascending sort, as JS)."""
    order = sorted(range(len(ps)), key=lambda k: ps[k])
    m = len(ps)
    adjusted = [min(ps[k] * (m - rank), 1.0) for rank, k in enumerate(order)]
    for rank in range(1, m):
        adjusted[rank] = max(adjusted[rank], adjusted[rank - 1])
    out = [0.0] * m
    for rank, k in enumerate(order):
        out[k] = adjusted[rank]
    return out


def benjamini_hochberg(ps):
    """GrowthBook's adjustPValuesBenjaminiHochberg (stable descending sort, as JS)."""
    order = sorted(range(len(ps)), key=lambda k: -ps[k])
    m = len(ps)
    adjusted = [min(ps[k] * m / (m - rank), 1.0) for rank, k in enumerate(order)]
    for rank in range(1, m):
        adjusted[rank] = min(adjusted[rank], adjusted[rank - 1])
    out = [0.0] * m
    for rank, k in enumerate(order):
        out[k] = adjusted[rank]
    return out


def adjusted_ci(p_adjusted, estimate, alpha, ci):
    """GrowthBook's getAdjustedCI / adjustedCI; None for [-inf, inf]."""
    if p_adjusted > 0.999999:
        return None
    if not estimate:
        return list(ci)
    z = norm.ppf(1 - alpha / 2)
    width = z * abs(estimate / norm.ppf(1 - p_adjusted / 2))
    lower, upper = estimate - width, estimate + width
    return [lower, upper] if lower < ci[0] and upper > ci[1] else list(ci)


SETTINGS = [
    # (name, GraphQL ExperimentAnalysisInput, gbstats method, design, correction)
    ("fixed", {"cuped": False}, {"type": "fixed", "alpha": 0.05}, "two", None),
    ("fixed_cuped", {"cuped": True}, {"type": "fixed", "alpha": 0.05}, "two", None),
    (
        "sequential",
        {"sequential": True, "sequentialTuning": 100, "alpha": 0.1},
        {"type": "sequential", "alpha": 0.1, "tuning": 100.0},
        "two",
        None,
    ),
    (
        "bayesian_flat",
        {"engine": "BAYESIAN"},
        {"type": "bayesian", "alpha": 0.05, "prior": {"proper": False, "mean": 0.0, "variance": 0.09}},
        "two",
        None,
    ),
    (
        "bayesian_proper",
        {"engine": "BAYESIAN", "prior": {"proper": True, "mean": 0.05, "variance": 0.01}},
        {"type": "bayesian", "alpha": 0.05, "prior": {"proper": True, "mean": 0.05, "variance": 0.01}},
        "two",
        None,
    ),
    (
        "holm",
        {"correction": "HOLM_BONFERRONI"},
        {"type": "fixed", "alpha": 0.05},
        "three",
        holm,
    ),
    (
        "benjamini_hochberg",
        {"correction": "BENJAMINI_HOCHBERG", "cuped": False, "alpha": 0.1},
        {"type": "fixed", "alpha": 0.1},
        "three",
        benjamini_hochberg,
    ),
]


def setting(name, analysis, method, design_name, correct, data):
    design = TWO_ARMS if design_name == "two" else THREE_ARMS
    sums = data[design_name]
    cuped = analysis.get("cuped", True)
    control = design["variants"][0]
    results = {}
    for metric, kind, _ in METRICS:
        results[metric] = {
            v: comparison(kind, method, "up", sums[control][metric], sums[v][metric], cuped)
            for v in design["variants"][1:]
        }
    corrected = None
    if correct is not None:
        # The family: primary and secondary metrics × treatments, in attachment then variant
        # order; guardrails stay out. Each scale is corrected over its own p-values.
        family = [
            (m, v)
            for m, _, role in METRICS
            if role != "GUARDRAIL"
            for v in design["variants"][1:]
        ]
        corrected = {m: {} for m, _, role in METRICS if role != "GUARDRAIL"}
        scales = {}
        for scale in ["absolute", "relative"]:
            raw = [results[m][v]["adjusted"][scale]["p_value"] for m, v in family]
            scales[scale] = correct(raw)
        for k, (m, v) in enumerate(family):
            entry = {}
            for scale in ["absolute", "relative"]:
                est = results[m][v]["adjusted"][scale]
                p = scales[scale][k]
                entry[scale] = {
                    "p_value": p,
                    "ci": adjusted_ci(p, est["estimate"], method["alpha"], (est["ci_lower"], est["ci_upper"])),
                }
            corrected[m][v] = entry
    return {
        "name": name,
        "analysis": analysis,
        "design": design_name,
        "metrics": results,
        "corrected": corrected,
    }


def main():
    data = {"two": arms(TWO_ARMS), "three": arms(THREE_ARMS)}
    out = {
        "generator": "tests/stats/api_expectations.py, gbstats 0.8.0",
        "designs": {"two": TWO_ARMS, "three": THREE_ARMS},
        "metrics": [{"key": m, "kind": k, "role": r} for m, k, r in METRICS],
        "arms": data,
        "settings": [setting(*s, data) for s in SETTINGS],
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
