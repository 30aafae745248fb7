"""The plausible range of every parameter that drives prices.

A validated bound (`model/config/`) says what the model can compute; a plausible range says
what the sources support. The property test (`tests/test_divergence.py`) draws whole parameter
points from these ranges, all parameters at once, and requires that none diverges; the
estimation's search box starts from them.

The rule: a parameter is known to within a factor of two of its default, [d/2, 2d] (clipped
to its validated bounds; an integer rounded), unless `EXPLICIT` gives its range with a reason.
A factor of two is the stated precision of this model's assumptions; where a source pins a
value more tightly, or where a factor of two on the value is not the right scale (a decay
rate near 1, an age, a share that is zero by default), the explicit range says why.
"""

from __future__ import annotations

import math
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from crypto401k.model.config import Config

# the sections whose numbers drive prices (sizes, schedules, seeds and records aside)
DYNAMIC_SECTIONS = ("market", "savers", "traders", "institutions", "regulator", "outside")
# sizes and calendar choices: not parameters of the dynamics
NOT_DYNAMIC = {
    "savers.n_cohorts",
    "savers.n_employers",
    "traders.n_traders",
    "institutions.n_funds",
    "institutions.n_lenders",
    "institutions.n_market_makers",
    "savers.reallocation_start_day",
    "market.vol_window_days",
}

# name -> ((low, high), reason)
EXPLICIT: dict[str, tuple[tuple[float, float], str]] = {
    "savers.allocation": (
        (0.0, 0.05),
        "from no crypto to ForUsAll's 5% cap, the range the experiments study",
    ),
    "savers.entry_age": ((21.0, 30.0), "ages: a factor of two is not the scale"),
    "savers.retirement_age": ((60.0, 70.0), "ages: a factor of two is not the scale"),
    "regulator.pressure_decay": (
        (0.978, 0.9945),
        "a memory (time constant 1/(1 - rho)) of 45 to 180 days: a factor of two either way "
        "on the quarter of the default",
    ),
    "market.market_maker_depth_share": (
        (0.25, 0.75),
        "a factor of two below the default 0.5, but at most three quarters: the rest of the "
        "book (retail limit orders, other venues) stays when market makers withdraw; near 1, "
        "depth vanishes with them and any flow moves the price without bound",
    ),
    "market.impact_permanent_share": (
        (0.25, 0.75),
        "a factor of two either way around one half, short of fully permanent impact, which "
        "both sources rule out for uninformed flow (docs/sources.md: Bucci et al. 2019, about "
        "half stays after 50 days; Donier & Bonart 2015, almost all of it decays on Bitcoin)",
    ),
    "market.jump_rate_annual": (
        (0.0, 10.0),
        "off by default; up to the 9.6 days a year beyond five robust standard deviations in "
        "the shipped Bitstamp series (an upper bound: the market's dynamics make part of them)",
    ),
    "market.jump_size": (
        (0.05, 0.15),
        "from half the default to the 0.146 standard deviation of those days' moves",
    ),
    "traders.attention": (
        (0.0, 1.5),
        "off by default; at 1.5 a 20% day (five calm standard deviations) multiplies the "
        "next day's trader noise by seven",
    ),
    "market.jump_branching": (
        (0.0, 0.8),
        "independent jumps by default; up to four in five jumps triggered by earlier ones",
    ),
    "market.jump_halflife_days": (
        (0.5, 10.0),
        "news excitement lasting from a day to two weeks",
    ),
    # the estimate's search box (docs/estimation.md): a factor of two either way around the
    # values before the estimate, written out so that the box (and so the committed estimate)
    # stays the same when the defaults become the estimate
    **{
        name: (box, "the estimate's box: a factor of two around the pre-estimation value")
        for name, box in {
            "market.impact_multiplier": (2.5, 10.0),
            "traders.chartist_reaction": (0.125, 0.5),
            "traders.fundamentalist_reaction": (0.025, 0.1),
            "traders.chartist_noise": (0.04, 0.16),
            "traders.fundamentalist_noise": (0.01, 0.04),
            "traders.predisposition": (-1.0, -0.25),
            "traders.herding": (0.75, 3.0),
        }.items()
    },
    "traders.misalignment": (
        (9.0, 37.0),
        "half to twice Franke & Westerhoff (2012)'s estimate on the S&P 500, 18.43 (the "
        "estimate's box)",
    ),
    "market.daily_volume_usd": (
        (4.7e10, 9.3e10),
        "CEX spot volume $47-93B/day in 2025 (CCData; docs/sources.md)",
    ),
}


def _bounds(field: Any) -> tuple[float, float]:
    lo, hi = -math.inf, math.inf
    for c in field.metadata:
        if isinstance(c, Ge):
            lo = float(c.ge)
        elif isinstance(c, Gt):  # open bounds: the nearest value inside
            lo = math.nextafter(float(c.gt), math.inf)
        elif isinstance(c, Le):
            hi = float(c.le)
        elif isinstance(c, Lt):
            hi = math.nextafter(float(c.lt), -math.inf)
    return lo, hi


def dynamic_parameters() -> dict[str, tuple[type, float, float]]:
    """Every float or int parameter of the dynamic sections: name -> (type, low, high), its
    plausible range."""
    config = Config()
    out: dict[str, tuple[type, float, float]] = {}
    for section in DYNAMIC_SECTIONS:
        values = getattr(config, section)
        for name, field in type(values).model_fields.items():
            key = f"{section}.{name}"
            kind = field.annotation
            if key in NOT_DYNAMIC or kind not in (float, int):
                continue
            out[key] = (kind, *plausible_range(key, getattr(values, name), _bounds(field)))
    return out


def plausible_range(key: str, default: float, bounds: tuple[float, float]) -> tuple[float, float]:
    """The explicit range of `key`, or [default/2, 2*default], clipped to `bounds`."""
    a, b = EXPLICIT[key][0] if key in EXPLICIT else sorted((default / 2.0, default * 2.0))
    lo, hi = max(a, bounds[0]), min(b, bounds[1])
    if isinstance(default, int) and not isinstance(default, bool):
        lo, hi = math.ceil(lo), math.floor(hi)
    return lo, hi
