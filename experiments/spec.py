"""Experiment specifications: what to run, read from TOML and checked before anything runs.

A spec names the scenario it builds on (`scenario`: a built-in name or a TOML file; the
BTC-only baseline, `Config()`, without one), fixed overrides (`base`), a full-factorial
`grid` of parameter values, an optional `control` (the no-401(k) or policy-off reference
each treatment is compared with), the seeds and the horizon, the headline `metrics`, and
the one-sentence `answer` to report. A `[quick]` table shrinks it for CI. A sensitivity
spec has `kind = "sensitivity"` and a `[sensitivity]` table of parameter bounds instead of
a grid (Morris, then Sobol).

The built-in specs are `experiments/specs/<name>.toml`; any other TOML file with the same
fields is accepted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from crypto401k.experiments.registry import split_metric
from crypto401k.model import scenarios
from crypto401k.model.config import ConfigError
from crypto401k.model.source_hash import model_source_hash
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SPEC_DIR = Path(__file__).parent / "specs"
# bump when the model or a metric changes what a finished run's record would hold: stored
# runs of an older version are then run again instead of being reused
METRICS_VERSION = 12
Value = float | int | bool | str | None
# what a point passes to the model: a value, or a whole matrix (a parameter draw's
# `market.correlation`, made from the estimate's entries by `experiments.draws`)
Override = Value | list[list[float]]


MAX_SEEDS = 100_000  # as `--seeds` (experiments.validate.MAX_SEEDS)
MAX_YEARS = 1000.0  # run.steps allows at most 365,000 days
MAX_DAYS = 365_000
DRAW_KEY = "param_draw"  # the swept dimension of parameter draws (experiments.draws)


class _Strict(BaseModel):
    # inf and NaN are never a size or a value (years = inf overflowed into a traceback)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Answer(_Strict):
    """The question's one-sentence answer: `metric` in `treatment` against its control."""

    metric: str
    treatment: dict[str, Value] = Field(default_factory=dict)
    subject: str
    # compare the metric across the values of this dimension (the treatment fixing the
    # others) instead of against the control: a Friedman test over seeds
    across: str | None = None


class Quick(_Strict):
    """Replacements for a CI-sized run: fewer seeds, a shorter horizon, a smaller grid."""

    seeds: int = Field(3, ge=1, le=MAX_SEEDS)
    years: float = Field(0.5, gt=0, le=MAX_YEARS)
    base: dict[str, Value] = Field(default_factory=dict)
    grid: dict[str, list[Value]] = Field(default_factory=dict)
    window_days: int | None = Field(None, ge=1, le=MAX_DAYS)
    morris_trajectories: int | None = Field(None, ge=2, le=1000)
    sobol_samples: int | None = Field(None, ge=2, le=65536)


class Sensitivity(_Strict):
    """Morris screening over `bounds`, then Sobol indices for the `sobol_top` most influential."""

    bounds: dict[str, tuple[float, float]]
    # upper bounds: far above a sensible design, they keep a typo from filling memory
    morris_trajectories: int = Field(10, ge=2, le=1000)
    morris_levels: int = Field(4, ge=2, le=100)
    sobol_samples: int = Field(
        64, ge=2, le=65536
    )  # N; a power of 2 keeps Saltelli's sequence balanced
    sobol_top: int = Field(4, ge=1)
    screen_metric: str = "annualized_volatility"


class Spec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    question: str
    scenario: str | None = None
    kind: Literal["grid", "sensitivity"] = "grid"
    seeds: int = Field(30, ge=1, le=MAX_SEEDS)
    first_seed: int = Field(0, ge=0, le=2**62)
    years: float = Field(gt=0, le=MAX_YEARS)
    window_days: int = Field(
        180, ge=1, le=MAX_DAYS
    )  # days after a shock over which its losses are counted
    metrics: list[str] = Field(min_length=1)
    base: dict[str, Value] = Field(default_factory=dict)
    grid: dict[str, list[Value]] = Field(default_factory=dict)
    # named bundles of overrides swept as one dimension, e.g. variants.shock.drop = {...}
    variants: dict[str, dict[str, dict[str, Value]]] = Field(default_factory=dict)
    control: dict[str, Value] = Field(default_factory=dict)
    # grid parameters that cannot matter in the control (e.g. the inflow channel when the
    # allocation is 0): its twin takes their base values, so one control serves many points
    control_ignores: list[str] = Field(default_factory=list)
    # one [answer] table, or several ([[answer]]) for a question with several parts
    answer: Answer | list[Answer] | None = None
    sensitivity: Sensitivity | None = None
    quick: Quick = Quick()

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        from crypto401k.experiments.outcomes import base_config  # imports the model: on use

        try:
            cfg = base_config(self.scenario)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        coins = [a.name for a in cfg.assets if a.kind == "coin"]
        for m in self.metrics:
            _, asset = split_metric(m)
            if asset is not None and (asset not in coins or len(cfg.assets) < 2):
                raise ValueError(
                    f"metric {m!r}: per-asset metrics need a scenario with several assets "
                    f"and a coin's name (scenario {self.scenario!r} has: {', '.join(coins)})"
                )
        for where, table in (
            ("base", self.base),
            ("grid", self.grid),
            ("control", self.control),
            ("quick.base", self.quick.base),
            *(
                (f"variants.{k}.{label}", v)
                for k, d in self.variants.items()
                for label, v in d.items()
            ),
        ):
            if "scenario" in table:
                raise ValueError(
                    f"{where}.scenario: the scenario is set once, at the top of the spec "
                    '(scenario = "four_assets" or a TOML file)'
                )
        for a in self.answers:
            if a.metric not in self.metrics:
                raise ValueError(f"answer.metric = {a.metric!r}: must be one of metrics")
        if self.kind == "grid":
            dims = [*self.grid.values(), *self.variants.values()]
            if not dims or any(len(v) == 0 for v in dims):
                raise ValueError("the grid is empty; give at least one value per parameter")
            if set(self.grid) & set(self.variants):
                raise ValueError("a dimension is both in grid and in variants")
            if DRAW_KEY in self.variants:
                raise ValueError(f"variants.{DRAW_KEY}: the name is kept for parameter draws")
            self._check_dimensions()
            if not self.answers:
                raise ValueError("a grid experiment needs an [answer] table")
        elif self.sensitivity is None:
            raise ValueError("kind 'sensitivity' needs a [sensitivity] table with bounds")
        else:
            if not self.sensitivity.bounds:
                raise ValueError("sensitivity.bounds is empty; must give at least one parameter")
            if self.sensitivity.screen_metric not in self.metrics:
                raise ValueError(
                    f"sensitivity.screen_metric = {self.sensitivity.screen_metric!r}: must be "
                    f"one of the spec's metrics ({', '.join(self.metrics)})"
                )
        return self

    def _check_dimensions(self) -> None:
        dims = {**self.grid, **{k: list(v) for k, v in self.variants.items()}}
        for name, where in [
            *((k, "control_ignores") for k in self.control_ignores),
            *((k, "quick.grid") for k in self.quick.grid),
        ]:
            if name not in dims:
                raise ValueError(f"{where}: {name!r} is not swept; swept: {', '.join(dims)}")
        for k, labels in self.quick.grid.items():
            unknown = [v for v in labels if v not in dims[k]]
            if unknown:
                raise ValueError(f"quick.grid.{k}: {unknown} not among {dims[k]}")
        swept_or_control = {k: list(v) for k, v in dims.items()}
        for k, v in self.control.items():
            swept_or_control.setdefault(k, []).append(v)
        for a in self.answers:
            if a.across is not None and a.across not in dims:
                raise ValueError(
                    f"answer.across: {a.across!r} is not swept; swept: {', '.join(dims)}"
                )
            for k, v in a.treatment.items():
                if k not in swept_or_control:
                    raise ValueError(
                        f"answer.treatment: {k!r} is not swept; swept: {', '.join(dims)}"
                    )
                if v not in swept_or_control[k]:
                    raise ValueError(
                        f"answer.treatment.{k} = {v!r}: not among {swept_or_control[k]}"
                    )

    @property
    def answers(self) -> list[Answer]:
        """The answer tables, as a list (empty for a sensitivity spec)."""
        if self.answer is None:
            return []
        return list(self.answer) if isinstance(self.answer, list) else [self.answer]

    def fixed_overrides(self) -> dict[str, Value]:
        """What every point passes to the model: the scenario (if any) and `base`."""
        head: dict[str, Value] = {"scenario": self.scenario} if self.scenario else {}
        return {**head, **self.base}

    def sized(self, quick: bool, seeds: int | None = None) -> Spec:
        """This spec at CI size (`quick`) and/or with another number of seeds."""
        data = self.model_dump()
        if quick:
            q = self.quick
            data.update(seeds=q.seeds, years=q.years, base={**self.base, **q.base})
            data["grid"] = {**self.grid, **{k: v for k, v in q.grid.items() if k in self.grid}}
            for dim, labels in q.grid.items():
                if dim in self.variants:
                    data["variants"][dim] = {
                        k: v for k, v in self.variants[dim].items() if k in labels
                    }
            if q.window_days is not None:
                data["window_days"] = q.window_days
            if self.sensitivity is not None:
                sens = data["sensitivity"]
                for key in ("morris_trajectories", "sobol_samples"):
                    if getattr(q, key) is not None:
                        sens[key] = getattr(q, key)
            # a treatment dropped from the quick grid keeps its answer on the nearest point
            dims = {**data["grid"], **{k: list(v) for k, v in data["variants"].items()}}
            answers = [a.model_dump() for a in self.answers]
            for a in answers:
                a["treatment"] = {
                    k: (v if v in dims.get(k, [v]) else dims[k][-1])
                    for k, v in a["treatment"].items()
                }
            if answers:
                data["answer"] = answers if isinstance(self.answer, list) else answers[0]
        if seeds is not None:
            data["seeds"] = seeds
        return _validate(data, self.name)


class Point(BaseModel):
    """One parameter point: the overrides that define it (base merged in) and its identity."""

    model_config = ConfigDict(frozen=True)

    index: int
    params: dict[str, Value]  # the swept values (what distinguishes it from other points)
    overrides: dict[str, Override]  # everything passed to the model, base and horizon included
    is_control: bool = False
    stage: str = "grid"

    @property
    def key(self) -> str:
        """Content hash of the overrides, `METRICS_VERSION` and the model's code: the same
        point gives the same key whatever the spec's order, and a stored run is reused only
        for the same point of the same model (`model.source_hash`)."""
        blob = json.dumps(
            [
                METRICS_VERSION,
                self.overrides,
                _scenario_text(self.overrides.get("scenario")),
                model_source_hash(),
            ],
            sort_keys=True,
            default=repr,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _scenario_text(scenario: str | None) -> str | None:
    """The scenario's TOML, so that a stored run is not reused after its scenario changed."""
    if scenario is None:
        return None
    return scenarios.file(scenario).read_text(encoding="utf-8")


def builtin_names() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.toml"))


def load_spec(name_or_path: str) -> Spec:
    """A built-in spec by name, or a spec file by path; ConfigError on any problem."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        if name_or_path not in builtin_names():
            raise ConfigError(
                f"experiment = {name_or_path!r}: unknown; allowed: {', '.join(builtin_names())} "
                "or a path to a spec .toml file"
            )
        path = SPEC_DIR / f"{name_or_path}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"spec file {str(path)!r}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"spec file {str(path)!r}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"spec file {str(path)!r}: not valid TOML ({exc})") from None
    return _validate(data, str(path))


def _validate(data: dict[str, Any], where: str) -> Spec:
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"spec {where}: field {loc!r} is unknown") from None
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "finite_number":
            msg = "must be a finite number (not inf or nan)"
        elif msg.startswith("Input should be "):
            msg = "must be " + msg.removeprefix("Input should be ")
        value = err.get("input")
        shown = f" = {value!r}" if loc and not isinstance(value, dict) else ""
        raise ConfigError(f"spec {where}: {loc or 'spec'}{shown}: {msg}") from None


def steps_for(years: float) -> int:
    return max(1, round(365 * years))


def grid_points(
    spec: Spec, under: dict[str, Override] | None = None, draw: int | None = None, first: int = 0
) -> list[Point]:
    """The full-factorial grid plus, for each treatment, its control twin (the treatment with
    the control's values), every point checked against the configuration.

    For parameter draw `draw`: its values `under` go below the spec's own settings (scenario
    aside), the points are numbered from `first`, and `DRAW_KEY` = `draw` joins their params,
    so that each treatment is paired with its control of the same draw."""
    dims = {**spec.grid, **{k: list(v) for k, v in spec.variants.items()}}
    combos = [dict(zip(dims, values, strict=True)) for values in itertools.product(*dims.values())]
    points: list[dict[str, Value]] = []
    for combo in combos:
        if combo not in points:
            points.append(combo)
    if spec.control:
        for combo in list(points):
            twin = control_params(spec, combo)
            if twin not in points:
                points.append(twin)
    tag = {} if draw is None else {DRAW_KEY: draw}
    return [
        _point(spec, first + i, {**params, **tag}, under, is_control=_is_control(spec, params))
        for i, params in enumerate(points)
    ]


def spec_settings(spec: Spec) -> dict[str, str]:
    """Every parameter the spec sets (base, grid, variants, control), with where: a parameter
    draw leaves these to the spec (its treatments and fixed settings are the experiment's
    design). Not its scenario's: a scenario is the model an estimate is made on (the
    several-asset estimate is of four_assets' own volatilities and correlations)."""
    where: dict[str, str] = {}
    tables = [("base", spec.base), ("control", spec.control)]
    tables += [("grid", dict.fromkeys(spec.grid))]
    tables += [(f"variants.{k}", v) for k, d in spec.variants.items() for v in d.values()]
    for name, table in tables:
        for k in table:
            where[k] = name
    return where


def control_params(spec: Spec, params: dict[str, Value]) -> dict[str, Value]:
    """The swept parameters of a point's control twin (no twin without a control)."""
    if not spec.control:
        return dict(params)
    kept = {k: v for k, v in params.items() if k not in spec.control_ignores}
    return {**kept, **spec.control}


def _is_control(spec: Spec, params: dict[str, Value]) -> bool:
    return bool(spec.control) and all(params.get(k) == v for k, v in spec.control.items())


def _point(
    spec: Spec,
    index: int,
    params: dict[str, Value],
    under: dict[str, Override] | None = None,
    **kw: Any,
) -> Point:
    head = spec.fixed_overrides()
    scenario = {"scenario": head.pop("scenario")} if "scenario" in head else {}
    overrides = {**scenario, **(under or {}), **head}
    for k, v in params.items():
        if k == DRAW_KEY:
            continue
        if k in spec.variants:
            overrides.update(spec.variants[k][v])
        else:
            overrides[k] = v
    overrides["run.steps"] = steps_for(spec.years)
    try:
        cfg = check_overrides(overrides)
    except ConfigError as exc:
        raise ConfigError(f"spec {spec.name}, point {_describe(params)}: {exc}") from None
    from crypto401k.experiments.outcomes import event_day  # imports the model: on use

    day = event_day(cfg)
    if day is not None and day + spec.window_days > overrides["run.steps"]:
        raise ConfigError(
            f"spec {spec.name}: the event on day {day}: its window of {spec.window_days} "
            f"days must end by the horizon ({overrides['run.steps']} days)"
        )
    return Point(index=index, params=params, overrides=overrides, **kw)


def _describe(params: dict[str, Value]) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in params.items())


def check_overrides(overrides: dict[str, Override]):
    """The configuration these overrides give (on their `scenario`); ConfigError naming the
    parameter if the model would reject them."""
    from crypto401k.experiments.outcomes import base_config  # imports the model: on use

    overrides = dict(overrides)
    return base_config(overrides.pop("scenario", None)).with_overrides(overrides)
