"""Parameter draws from an estimate's uncertainty: the plausible parameter sets an experiment
is rerun at, to say how its answers move across them.

    crypto401k experiment NAME --param-draws N [--estimate FILE] [--draw-seeds S]

The estimate is `crypto401k estimate`'s OUT/estimate.json: `theta` (the point estimate), its
`parameters` rows (each with its plausible `box` [low, high]) and the sandwich `covariance`
(p x p, in parameter units). A draw is a vector from the normal distribution N(theta, cov)
restricted to the box: drawn again until every parameter lies in its box (rejection, so exact).
That is the large-sample distribution of the estimator under a uniform prior on the box: the
box is the range the parameters were searched in, and a value outside it is implausible by the
range's own sources (`model.ranges`), whatever the linearization says.

A parameter whose variance is unknown (NaN on the covariance's diagonal: the estimate had a
failed run next to it, or gave no standard errors) is drawn uniformly from its box, on the
search's scale (log for a box spanning a factor of four or more), independently of the
others: the data said nothing usable about it, so the box alone bounds it.

Reproducible: draw i comes from its own generator, seeded by (`DRAW_SEED`, i), so the same file
gives the same draws, and the first k of N draws are the k draws of a smaller run (a sweep
extended from 20 draws to 50 reuses the first 20 draws' runs).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from crypto401k.model.config import Config, ConfigError

DRAW_SEED = 2_019  # the draws' own seed (issue 19); draw i uses the generator of (DRAW_SEED, i)
MAX_DRAWS = 1_000  # each draw reruns every point of the grid
BATCH = 256  # candidates drawn at a time by a draw's rejection loop
MAX_CANDIDATES = 1_000_000  # per draw: below 1 in a million of the normal's mass in the box
SYMMETRY_TOL = 1e-8  # relative asymmetry of the covariance taken as rounding
PSD_TOL = 1e-8  # a negative eigenvalue above -PSD_TOL x the largest is rounding (clipped to 0)
DEFAULT_ESTIMATE = Path("results") / "estimate" / "estimate.json"


@dataclass(frozen=True)
class Estimate:
    """An estimate as the draws need it: names, point estimate, covariance and boxes.

    `theta`, `low`, `high`: shape (p,), parameter units; `cov`: (p, p), NaN where unknown."""

    path: str
    sha256: str
    names: tuple[str, ...]
    theta: np.ndarray
    cov: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def unknown(self) -> np.ndarray:
        """(p,) bool: parameters without a variance (drawn uniformly from the box)."""
        return ~np.isfinite(np.diag(self.cov))

    @property
    def log_scale(self) -> np.ndarray:
        """(p,) bool: boxes searched on a log scale (as `estimate.search_box` decides)."""
        return (self.low > 0) & (self.high >= 4 * self.low)

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))


@dataclass(frozen=True)
class Draws:
    """N parameter draws: `values` (N, p) in parameter units, `candidates` (N,) the vectors
    drawn to get each (1 if the first fell in the box)."""

    estimate: Estimate
    values: np.ndarray
    candidates: np.ndarray
    seed: int = DRAW_SEED

    def overrides(self, i: int) -> dict[str, float]:
        """Draw i as model overrides."""
        return {n: float(v) for n, v in zip(self.estimate.names, self.values[i], strict=True)}

    def acceptance(self) -> float:
        """Share of the candidates that fell in the box: about the normal's mass in it."""
        return float(len(self.candidates) / self.candidates.sum()) if len(self.candidates) else 1.0

    def record(
        self, held: dict[str, str] | None = None, base: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """draws.json: where the draws come from, the rule, and every draw's values; `held`:
        the parameters the experiment sets itself; `base`: its scenario (the defaults)."""
        est = self.estimate
        return {
            "estimate": {"path": est.path, "sha256": est.sha256},
            "seed": self.seed,
            "rule": "normal(theta, covariance) restricted to each parameter's box (and to "
            "vectors the model accepts) by rejection; a parameter with an unknown variance "
            "uniform on its box (log scale for a box spanning a factor of 4 or more)",
            "parameters": [
                {
                    "parameter": n,
                    "estimate": float(est.theta[j]),
                    "se": float(est.se[j]) if not est.unknown[j] else None,
                    "box": [float(est.low[j]), float(est.high[j])],
                    "drawn": "uniform on the box" if est.unknown[j] else "truncated normal",
                    "held_by_spec": (held or {}).get(n),
                }
                for j, n in enumerate(est.names)
            ],
            "acceptance": self.acceptance(),
            "estimate_not_default": off_defaults(est, base),
            "draws": [
                {"draw": i, "candidates": int(self.candidates[i]), **self.overrides(i)}
                for i in range(len(self.values))
            ],
        }


# ---- reading and checking an estimate ----------------------------------------------------
def _bad(path: str, why: str) -> ConfigError:
    return ConfigError(f"estimate = {path!r}: {why}")


def load_estimate(path: Path | str) -> Estimate:
    """Read and check an estimate.json; ConfigError naming the file and what is wrong (no
    file, not JSON, a missing or malformed field, a theta outside its box, a covariance that
    is not symmetric positive semidefinite). Whether the model has its parameters depends on
    the experiment's scenario: `check_for`."""
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise _bad(
            shown, "no such file; run `crypto401k estimate` or give --estimate FILE"
        ) from None
    except OSError as exc:
        raise _bad(shown, f"cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(shown, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not {"theta", "parameters", "covariance"} <= set(data):
        raise _bad(
            shown,
            "not an estimate: it needs the fields theta, parameters and covariance "
            "(as `crypto401k estimate` writes them)",
        )
    names, low, high = _rows(shown, data["parameters"])
    theta = _theta(shown, data["theta"], names, low, high)
    cov = _covariance(shown, data["covariance"], len(names))
    return Estimate(
        path=shown,
        sha256=hashlib.sha256(raw).hexdigest(),
        names=tuple(names),
        theta=theta,
        cov=cov,
        low=np.array(low),
        high=np.array(high),
    )


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _rows(shown: str, rows: Any) -> tuple[list[str], list[float], list[float]]:
    if not isinstance(rows, list) or not rows:
        raise _bad(shown, "parameters must be a non-empty list of rows")
    names, low, high = [], [], []
    for i, row in enumerate(rows):
        name = row.get("parameter", row.get("name")) if isinstance(row, dict) else None
        if not isinstance(name, str):
            raise _bad(shown, f"parameters[{i}] has no parameter name")
        box = row.get("box")
        if not (
            isinstance(box, list) and len(box) == 2 and all(map(_finite, box)) and box[0] < box[1]
        ):
            raise _bad(shown, f"{name}: box = {box!r}: must be [low, high], finite, low < high")
        if name in names:
            raise _bad(shown, f"parameter {name!r} appears twice")
        names.append(name)
        low.append(float(box[0]))
        high.append(float(box[1]))
    return names, low, high


def _theta(
    shown: str, theta: Any, names: list[str], low: list[float], high: list[float]
) -> np.ndarray:
    if not isinstance(theta, dict) or set(theta) != set(names):
        got = sorted(theta) if isinstance(theta, dict) else type(theta).__name__
        raise _bad(shown, f"theta must give exactly the parameters' values ({names}); got {got}")
    for n, lo, hi in zip(names, low, high, strict=True):
        v = theta[n]
        if not _finite(v) or not lo <= v <= hi:
            raise _bad(shown, f"theta.{n} = {v!r}: must be a finite number in its box [{lo}, {hi}]")
    return np.array([float(theta[n]) for n in names])


def _covariance(shown: str, cov: Any, p: int) -> np.ndarray:
    try:
        c = np.array(cov, dtype=float)
    except (TypeError, ValueError):
        raise _bad(shown, f"covariance must be a {p} x {p} list of numbers") from None
    if c.shape != (p, p):
        raise _bad(shown, f"covariance has shape {c.shape}: must be {p} x {p}, one per parameter")
    if np.isinf(c).any():
        raise _bad(shown, "covariance holds an infinite value")
    known = np.isfinite(np.diag(c))
    block = c[np.ix_(known, known)]
    if not np.isfinite(block).all():
        raise _bad(shown, "covariance: a covariance between parameters with variances is NaN")
    scale = float(np.abs(block).max()) if block.size else 0.0
    if block.size and not np.allclose(block, block.T, rtol=0, atol=SYMMETRY_TOL * scale):
        raise _bad(shown, "covariance is not symmetric")
    if block.size and np.linalg.eigvalsh(block).min() < -PSD_TOL * scale:
        raise _bad(shown, "covariance is not positive semidefinite (a negative variance)")
    # a parameter without a variance is drawn on its own: its covariances are not used
    c[~known, :] = np.nan
    c[:, ~known] = np.nan
    return c


def as_overrides(base: dict[str, Any], values: dict[str, float]) -> dict[str, Any]:
    """Parameter values as model overrides on `base` (a `scenario` key and overrides), the
    estimate's way: a correlation entry `market.correlation.i.j` becomes the whole matrix."""
    from crypto401k.experiments.estimate import point_overrides

    out = point_overrides(base, values)
    return {k: v for k, v in out.items() if k not in base}


def model_accepts(est: Estimate, base: dict[str, Any]) -> Callable[[np.ndarray], bool]:
    """Whether the model on `base` accepts a candidate (p,) as a whole (e.g. drawn
    correlation entries that together are not a correlation matrix: refused)."""
    from crypto401k.experiments.spec import check_overrides

    def valid(values: np.ndarray) -> bool:
        theta = {n: float(v) for n, v in zip(est.names, values, strict=True)}
        try:
            check_overrides({**base, **as_overrides(base, theta)})
        except ConfigError:
            return False
        return True

    return valid


def check_for(est: Estimate, base: dict[str, Any]) -> None:
    """ConfigError unless each parameter is one of the model's on `base` (a `scenario` key
    and overrides; e.g. ETH's volatility needs a scenario with ETH) and its box's ends are
    values the model accepts there (so every draw is one: the model's constraints are
    intervals)."""
    from crypto401k.experiments.spec import check_overrides

    where = f"scenario {base['scenario']}" if base.get("scenario") else "the BTC-only model"
    for n, lo, hi in zip(est.names, est.low, est.high, strict=True):
        for v in (lo, hi):
            try:
                check_overrides({**base, **as_overrides(base, {n: float(v)})})
            except ConfigError as exc:
                raise _bad(est.path, f"parameter {n!r} at {v:g} ({where}): {exc}") from None
            except (IndexError, KeyError, ValueError, TypeError):
                raise _bad(est.path, f"parameter {n!r}: not a parameter of {where}") from None


def default_value(cfg: Config | dict[str, Any], name: str) -> Any:
    """The value of dotted parameter `name` (e.g. market.impact_multiplier, or
    market.correlation.0.1 for a matrix entry) in `cfg` (a Config or its model_dump)."""
    obj: Any = cfg
    for part in name.split("."):
        if isinstance(obj, list):
            obj = obj[int(part)]
        else:
            obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


# the defaults are the estimate written with three or four significant digits (at most 0.15%
# off it): closer than that is the estimate
DEFAULT_ROUNDING = 2e-3


def off_defaults(
    est: Estimate, base: dict[str, Any] | None = None, rel: float = DEFAULT_ROUNDING
) -> list[dict[str, Any]]:
    """The parameters whose estimate is not their value on `base` (a `scenario` key and
    overrides; the model's defaults without one), to relative tolerance `rel`: the draws
    are centred on the estimate, the experiment's own point on the defaults, so the two
    describe different centres until the defaults are set to the estimate."""
    from crypto401k.experiments.estimate import base_dump

    dump = base_dump(base)
    out = []
    for name, t in zip(est.names, est.theta, strict=True):
        d = float(default_value(dump, name))
        if not math.isclose(t, d, rel_tol=rel, abs_tol=1e-12):
            out.append({"parameter": name, "estimate": float(t), "default": d})
    return out


def check_draw_sizes(
    n: int, seeds: int, draw_seeds: int | None, typed: dict[str, str] | None = None
) -> int:
    """The seeds per draw (`draw_seeds`, default: all `seeds`); ConfigError naming the
    parameter when `n` or `draw_seeds` is out of range."""
    typed = typed or {}
    if not 1 <= n <= MAX_DRAWS:
        shown = typed.get("param_draws", str(n))
        raise ConfigError(f"param_draws = {shown}: must be an integer from 1 to {MAX_DRAWS:,}")
    if draw_seeds is None:
        return seeds
    if not 1 <= draw_seeds <= seeds:
        shown = typed.get("draw_seeds", str(draw_seeds))
        raise ConfigError(
            f"draw_seeds = {shown}: must be an integer from 1 to the experiment's seeds "
            f"({seeds}); each draw runs the first S of them"
        )
    return draw_seeds


# ---- drawing ------------------------------------------------------------------------------
def _factor(est: Estimate) -> np.ndarray:
    """L (q, q) with L L' = the known block of the covariance (eigen-decomposition: works for
    a semidefinite matrix, where Cholesky fails)."""
    known = ~est.unknown
    block = est.cov[np.ix_(known, known)]
    if not block.size:
        return np.zeros((0, 0))
    w, v = np.linalg.eigh(block)
    return v * np.sqrt(np.clip(w, 0.0, None))


def _candidates(est: Estimate, factor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """BATCH candidate vectors (BATCH, p): normal on the known block, uniform (on the box's
    search scale) for the unknown parameters."""
    known, unknown = ~est.unknown, est.unknown
    out = np.tile(est.theta, (BATCH, 1))
    z = rng.standard_normal((BATCH, int(known.sum())))
    out[:, known] += z @ factor.T
    u = rng.random((BATCH, int(unknown.sum())))
    lo, hi, log = est.low[unknown], est.high[unknown], est.log_scale[unknown]
    with np.errstate(divide="ignore", invalid="ignore"):
        on_log = np.exp(np.log(lo) + u * np.log(hi / lo))
    out[:, unknown] = np.where(log, on_log, lo + u * (hi - lo))
    return out


def draw_one(
    est: Estimate,
    factor: np.ndarray,
    i: int,
    seed: int = DRAW_SEED,
    valid: Callable[[np.ndarray], bool] | None = None,
) -> tuple[np.ndarray, int]:
    """Draw i: (values (p,), candidates drawn), from the generator of (seed, i) alone: the
    first candidate inside the boxes that `valid` (if given) accepts."""
    rng = np.random.default_rng([seed, i])
    drawn = 0
    while drawn < MAX_CANDIDATES:
        batch = _candidates(est, factor, rng)
        inside = np.flatnonzero(((batch >= est.low) & (batch <= est.high)).all(axis=1))
        for j in inside:
            if valid is None or valid(batch[j]):
                return batch[j], drawn + int(j) + 1
        drawn += BATCH
    raise ConfigError(
        f"estimate = {est.path!r}: fewer than 1 in {MAX_CANDIDATES:,} of the normal "
        "distribution of its parameters lies in their boxes (and makes a model); the "
        "covariance is too wide (or theta too close to a box's corner) to draw plausible "
        "parameters from"
    )


def draw(
    est: Estimate,
    n: int,
    seed: int = DRAW_SEED,
    valid: Callable[[np.ndarray], bool] | None = None,
) -> Draws:
    """N draws; draw i depends on (seed, i) only, so the first k of N + 1 draws are N's.
    `valid`: a candidate (p,) it refuses is drawn again, like one outside the boxes."""
    factor = _factor(est)
    values, tries = [], []
    for i in range(n):
        v, t = draw_one(est, factor, i, seed, valid)
        values.append(v)
        tries.append(t)
    return Draws(
        estimate=est,
        values=np.array(values).reshape(n, len(est.names)),
        candidates=np.array(tries, dtype=int),
        seed=seed,
    )
