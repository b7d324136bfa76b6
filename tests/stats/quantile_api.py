#!/usr/bin/env python3
"""Generates tests/stats/quantile_api.json: what lift's GraphQL results must say for the
hand-made event set of `tests/api/results/quantile.rs` (two QUANTILE metrics: the 90th
percentile of purchase values over events with zeros left out, the median of identities' summed
purchase values), under EXCLUDE and FIRST_TOUCH, from GrowthBook gbstats 0.8.0 (via
`quantile.py`'s `quantile_arm` and `case`).

    /tmp/gbstats/bin/python tests/stats/quantile_api.py > tests/stats/quantile_api.json

The purchases come from the same closed-form rules the Rust test turns into events (`purchases`,
the multiple-exposure identities `m-*`); the Rust test recomputes the arms from its own event list
and checks them against the `arms` written here and against the API, so all three read the same
data.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quantile import case, quantile_arm  # noqa: E402

SIZE = 80
MULTIPLE = 6
VARIANTS = ["control", "treatment"]
SETTINGS = [
    {"name": "exclude fixed", "handling": "EXCLUDE",
     "method": {"type": "fixed", "alpha": 0.05}},
    {"name": "first touch bayesian", "handling": "FIRST_TOUCH",
     "method": {"type": "bayesian", "alpha": 0.05,
                "prior": {"proper": False, "mean": 0.0, "variance": 0.09}}},
]


def purchases(i, a):
    """Values of identity `i` of arm `a`'s purchases after its exposure, in order."""
    return [
        0.0 if (i + j) % 9 == 0 else float(5 + (i * 13 + j * 7 + a * 3) % 23 + 2 * a)
        for j in range((i * 7 + a) % 4)
    ]


def multiple(i):
    """The purchases of `m-i`, exposed to the control first, then to the treatment."""
    return [float(100 + i), float(40 + i)]


def identities(handling):
    """Per variant, every counted identity's purchase values."""
    out = {v: [purchases(i, a) for i in range(SIZE)] for a, v in enumerate(VARIANTS)}
    if handling == "FIRST_TOUCH":
        out["control"] += [multiple(i) for i in range(MULTIPLE)]
    return out


def arms(handling):
    """Per variant, the arms of the event quantile and of the identity quantile."""
    result = {}
    for variant, values in identities(handling).items():
        events = quantile_arm([v for vs in values for v in vs if v != 0], 0.9)
        q = events["quantile"]
        s = [float(sum(1 for v in vs if v != 0 and v <= q)) for vs in values]
        c = [float(sum(1 for v in vs if v != 0)) for vs in values]
        events["clusters"] = {
            "clusters": len(values),
            "main_sum": sum(s),
            "main_sum_sq": sum(x * x for x in s),
            "den_sum": sum(c),
            "den_sum_sq": sum(x * x for x in c),
            "main_den_sum": sum(x * y for x, y in zip(s, c)),
        }
        result[variant] = {
            "events": events,
            "identities": quantile_arm([sum(vs) for vs in values], 0.5),
        }
    return result


def main():
    out = []
    for setting in SETTINGS:
        a = arms(setting["handling"])
        expected = {}
        for metric in ["events", "identities"]:
            c = case(metric, setting["method"], "up", a["control"][metric],
                     a["treatment"][metric])
            if c["refused"]:
                raise ValueError(f"gbstats refused {setting['name']} {metric}")
            expected[metric] = {"variances": c["variances"], "effects": c["effects"]}
        out.append({**setting, "arms": a, "expected": expected})
    json.dump({"generator": "tests/stats/quantile_api.py (gbstats 0.8.0)", "settings": out},
              sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
