#!/usr/bin/env python3
"""Generates tests/stats/funnel_capping_expectations.json: the comparisons lift's GraphQL results
must report for the funnel and capped metrics of `tests/api/results/funnel_capping.rs`, from
GrowthBook gbstats 0.8.0 (via `analysis.py`'s `comparison`, as `api_expectations.py`).

    python3 -m venv /tmp/gbstats && /tmp/gbstats/bin/pip install gbstats==0.8.0 scipy
    /tmp/gbstats/bin/python tests/stats/funnel_capping_expectations.py \
        > tests/stats/funnel_capping_expectations.json

A capped metric's statistics are the ordinary mean statistics of the capped per-identity values,
and a funnel's the proportion statistics of its conversions; so gbstats is given the sums the
Rust test asserts (worked out by hand there from its event list, capped values included) and, with
CUPED, the covariate sums its library test asserts (the covariate capped with the metric's caps).
MEAN metrics have no covariate: CUPED falls back to the unadjusted comparison.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analysis import comparison  # noqa: E402

FIXED = {"type": "fixed", "alpha": 0.05}
NONE = (0.0, 0.0, 0.0)


def arm(n, s, s2, covariate=NONE):
    return {
        "n": n,
        "sum": s,
        "sum_sq": s2,
        "covariate": {"sum": covariate[0], "sum_sq": covariate[1], "sum_product": covariate[2]},
    }


# (metric label, gbstats kind, CUPED applies) → {handling: (control, treatment)}
METRICS = [
    (
        "funnel",
        "conversion",
        True,
        {
            "EXCLUDE": (arm(4, 1.0, 1.0, (1.0, 1.0, 0.0)), arm(3, 2.0, 2.0)),
            "FIRST_TOUCH": (arm(5, 2.0, 2.0), arm(3, 2.0, 2.0)),
        },
    ),
    (
        "funnel in a day",
        "conversion",
        True,
        {
            "EXCLUDE": (arm(4, 2.0, 2.0, (1.0, 1.0, 0.0)), arm(3, 1.0, 1.0)),
            "FIRST_TOUCH": (arm(5, 3.0, 3.0), arm(3, 1.0, 1.0)),
        },
    ),
    (
        "count ≤ 2",
        "mean",
        True,
        {
            "EXCLUDE": (arm(4, 5.0, 9.0, (3.0, 5.0, 6.0)), arm(3, 3.0, 5.0)),
            "FIRST_TOUCH": (arm(5, 6.0, 10.0), arm(3, 3.0, 5.0)),
        },
    ),
    (
        "sum ≤ p75 of non-zero",
        "mean",
        True,
        {
            "EXCLUDE": (arm(4, 133.0, 10065.0, (101.0, 8545.0, 8824.0)), arm(3, 95.0, 8473.0)),
            "FIRST_TOUCH": (arm(5, 185.0, 12257.0), arm(3, 87.0, 7065.0)),
        },
    ),
    (
        "sum in [p25, p50]",
        "mean",
        True,
        {
            "EXCLUDE": (
                arm(4, 7.5, 19.25, (7.0, 18.5, 18.75)),
                arm(3, 6.5, 18.25, (1.5, 0.75, 3.25)),
            ),
            "FIRST_TOUCH": (arm(5, 66.25, 1388.3125), arm(3, 25.25, 471.8125)),
        },
    ),
    (
        "mean in [2, 10]",
        "mean",
        False,
        {
            "EXCLUDE": (arm(3, 22.0, 204.0), arm(2, 13.0, 109.0)),
            "FIRST_TOUCH": (arm(4, 32.0, 304.0), arm(2, 13.0, 109.0)),
        },
    ),
]

# EXCLUDE runs with CUPED on (the default), FIRST_TOUCH with CUPED off.
CUPED = {"EXCLUDE": True, "FIRST_TOUCH": False}

out = {}
for label, kind, has_covariate, arms in METRICS:
    out[label] = {}
    for handling, (control, treatment) in arms.items():
        cuped = CUPED[handling] and has_covariate
        result = comparison(kind, FIXED, "up", control, treatment, cuped)
        out[label][handling] = {
            "absolute": result["adjusted"]["absolute"],
            "relative": result["adjusted"]["relative"],
            "cuped_applied": result["theta"] is not None,
        }
json.dump(out, sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
sys.stdout.write("\n")
