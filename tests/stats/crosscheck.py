#!/usr/bin/env python3
"""Generates tests/stats/crosscheck.json: reference results of GrowthBook gbstats 0.8.0
`TwoSidedTTest` (frequentist, relative and absolute) for `tests/stats_crosscheck.rs`.

    python3 -m venv /tmp/gbstats && /tmp/gbstats/bin/pip install gbstats==0.8.0 scipy
    /tmp/gbstats/bin/python tests/stats/crosscheck.py > tests/stats/crosscheck.json

The cases are deterministic (a fixed seed), so rerunning reproduces the committed file. Every case
has a non-zero control mean and a positive variance in both arms, the inputs gbstats computes
rather than answering with its uninformative default. Sums are written with `repr` precision, so
Rust reads exactly the doubles gbstats saw.
"""

import json
import random
import sys

import gbstats
from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic

SEED = 20240607
ALPHAS = [0.05, 0.01, 0.1, 0.2, 0.001]


def numeric(n, mean, sd):
    """Sufficient statistics of `n` values with this mean and sample standard deviation."""
    total = n * mean
    return {"n": n, "sum": total, "sum_sq": (n - 1) * sd * sd + total * total / n}


def conversion(n, conversions):
    return {"n": n, "sum": float(conversions), "sum_sq": float(conversions)}


def statistic(kind, arm):
    if kind == "conversion":
        return ProportionStatistic(n=arm["n"], sum=arm["sum"])
    return SampleMeanStatistic(n=arm["n"], sum=arm["sum"], sum_squares=arm["sum_sq"])


def run(kind, control, treatment, alpha, difference_type):
    config = FrequentistConfig(alpha=alpha, difference_type=difference_type)
    test = TwoSidedTTest(statistic(kind, control), statistic(kind, treatment), config)
    result = test.compute_result()
    if result.error_message is not None:
        raise ValueError(f"gbstats refused {kind} {control} {treatment}: {result.error_message}")
    return {
        "estimate": float(result.expected),
        "ci_lower": float(result.ci[0]),
        "ci_upper": float(result.ci[1]),
        "p_value": float(result.p_value),
    }


def case(name, kind, control, treatment, alpha=0.05):
    return {
        "name": name,
        "kind": kind,
        "alpha": alpha,
        "control": control,
        "treatment": treatment,
        "absolute": run(kind, control, treatment, alpha, "absolute"),
        "relative": run(kind, control, treatment, alpha, "relative"),
    }


def cases():
    rng = random.Random(SEED)
    # The golden vectors of gbstats' own test suite.
    yield case(
        "gbstats numeric",
        "numeric",
        {"n": 1000, "sum": 5000.0, "sum_sq": 30000.0},
        {"n": 1100, "sum": 5720.0, "sum_sq": 35000.0},
    )
    yield case(
        "gbstats skewed numeric",
        "numeric",
        {"n": 3407, "sum": 1396.87, "sum_sq": 52377.9767},
        {"n": 3461, "sum": 2422.7, "sum_sq": 134698.29},
    )
    yield case("gbstats conversion", "conversion", conversion(28, 14), conversion(30, 16))

    # Tiny samples: few degrees of freedom, where the t quantile is far from the normal one.
    for n_a, n_b in [(2, 2), (2, 3), (3, 5), (5, 4), (8, 12)]:
        control = numeric(n_a, 10.0 + rng.uniform(-1, 1), rng.uniform(0.5, 3))
        treatment = numeric(n_b, 10.5 + rng.uniform(-1, 1), rng.uniform(0.5, 3))
        yield case(f"numeric tiny {n_a}/{n_b}", "numeric", control, treatment, rng.choice(ALPHAS))

    # Random numeric metrics over many scales, some with negative or near-zero means. The
    # treatment is shifted by a random number of standard errors, so p-values spread over (0, 1).
    for i in range(16):
        n_a, n_b = (int(10 ** rng.uniform(1, 6.5)) for _ in range(2))
        mean = rng.choice([1.0, 50.0, 1e4, -3.0, 0.02]) * rng.uniform(0.5, 2)
        sd_a = abs(mean) * rng.uniform(0.2, 5)
        sd_b = sd_a * rng.uniform(0.8, 1.25)
        shift = rng.uniform(-4, 4) * (sd_a**2 / n_a + sd_b**2 / n_b) ** 0.5
        control = numeric(n_a, mean, sd_a)
        treatment = numeric(n_b, mean + shift, sd_b)
        yield case(f"numeric random {i}", "numeric", control, treatment, rng.choice(ALPHAS))

    # Random conversion metrics, rare to common, small to large, shifted the same way.
    for i in range(12):
        n_a, n_b = (int(10 ** rng.uniform(1.5, 6.5)) for _ in range(2))
        rate = rng.choice([0.01, 0.05, 0.2, 0.5, 0.9])
        se = (rate * (1 - rate) * (1 / n_a + 1 / n_b)) ** 0.5
        rate_b = min(0.99, max(0.001, rate + rng.uniform(-4, 4) * se))
        conv_a = max(1, min(n_a - 1, round(n_a * rate)))
        conv_b = max(1, min(n_b - 1, round(n_b * rate_b)))
        yield case(
            f"conversion random {i}",
            "conversion",
            conversion(n_a, conv_a),
            conversion(n_b, conv_b),
            rng.choice(ALPHAS),
        )

    # Large effects: tiny p-values, where 1 − cdf loses relative precision.
    yield case("numeric huge effect", "numeric", numeric(50000, 10.0, 2.0), numeric(50000, 10.1, 2.0))
    yield case("conversion huge effect", "conversion", conversion(20000, 1000), conversion(20000, 1300))

    # Warehouse-sized arms: about 10⁸ degrees of freedom, where statrs' own t quantile is off.
    yield case("numeric warehouse", "numeric", numeric(60_000_000, 3.2, 7.5), numeric(59_000_000, 3.2021, 7.6))
    yield case(
        "conversion warehouse",
        "conversion",
        conversion(40_000_000, 1_200_000),
        conversion(40_100_000, 1_206_500),
        0.01,
    )


def main():
    document = {
        "generator": "tests/stats/crosscheck.py",
        "reference": f"gbstats {gbstats.__version__} TwoSidedTTest",
        "cases": list(cases()),
    }
    json.dump(document, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
