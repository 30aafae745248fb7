"""One simulation run: build, simulate, summarise, and write the outputs atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w
from crypto401k.experiments.books import books_check
from crypto401k.experiments.outcomes import measure
from crypto401k.model import __version__
from crypto401k.model.config import Config, ConfigError
from crypto401k.model.model import Crypto401kModel
from crypto401k.model.policy import RUNG_NAMES

RUN_FILES = ("timeseries.parquet", "timeseries.csv", "summary.json", "config.toml")


def simulate(cfg: Config) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run the scenario; return the daily time series and the summary."""
    start = time.perf_counter()
    m = Crypto401kModel(cfg)
    m.run()
    wall = time.perf_counter() - start
    ts = m.datacollector.get_model_vars_dataframe()
    ts.index.name = "day"
    return ts, summarize(m, ts, wall)


def summarize(m: Crypto401kModel, ts: pd.DataFrame, wall_time_s: float) -> dict[str, Any]:
    """The summary of a finished run (JSON-serialisable; summary.json).

    `metrics` holds every metric of the registry, defined once (`outcomes.measure`): the same
    numbers a sweep records for a run, null where a metric does not apply (NaN in a sweep).
    The rest is what only a single run has: the sizes, the event window's days, each asset's
    price levels, the run's events (institutions and exchanges that failed, the regulator's
    actions or the agencies' rules), the revenue by year, the divergence guard and the books.
    """
    cfg = m.config
    window = m.event_window
    return {
        "version": __version__,
        "seed": m.seed,
        "days": int(len(ts) - 1),
        "agents": {
            "savers": cfg.savers.n_cohorts,
            "traders": cfg.traders.n_traders,
            "institutions": cfg.n_institutions,
            "exchanges": cfg.exchanges.n_exchanges,
        },
        "metrics": {k: None if np.isnan(v) else v for k, v in measure(m).items()},
        "event_window": {"day": window.day, "last_day": window.last, "days": window.days},
        "prices": {name: _levels(ts[_price_column(m, name)].to_numpy()) for name in m.asset_names},
        "events": _events(m, ts),
        "fiscal": _fiscal_detail(m),
        "divergence": {  # a diverged run is a failure of the model, never data
            "diverged": m.diverged,
            "bound_ratio": cfg.run.divergence_ratio,
            "max_abs_log_price_over_fundamental": dict(
                zip(m.asset_names, m.max_mispricing.tolist(), strict=True)
            ),
        },
        "books": books_check(m),
        "wall_time_s": wall_time_s,
    }


def _price_column(m: Crypto401kModel, name: str) -> str:
    """The time series' price column of asset `name` (the plain `price` with one asset)."""
    return "price" if len(m.asset_names) == 1 else f"price_{name}"


def _levels(prices: np.ndarray) -> dict[str, float]:
    """A price series' first, last, lowest and highest value (USD per coin)."""
    return {
        "initial": float(prices[0]),
        "final": float(prices[-1]),
        "min": float(prices.min()),
        "max": float(prices.max()),
    }


def _events(m: Crypto401kModel, ts: pd.DataFrame) -> dict[str, Any]:
    """What happened in the run, day by day: failures, the policy's steps, the rescue."""
    out: dict[str, Any] = {
        "institutions_failed": [{"day": d, "institution": i} for d, i in m.failed],
        "days_halted": int(ts["halted"].sum()),
        "rescue_day": m.rescued_day,
    }
    if m.board is None:
        history = m.regulator.ladder.history
        out["regulator_actions"] = [
            {"day": d, "level": lv, "action": RUNG_NAMES[lv]} for d, lv in history
        ]
    else:
        board, day = m.board, m.day
        out["agencies"] = {
            "stages": board.stages(day),
            "pressure": board.pressures(),
            "rules": [
                {
                    "name": r.cfg.name,
                    "agencies": r.cfg.agencies,
                    "instrument": r.cfg.instrument,
                    "started": r.start,
                    "in_force": r.effective if r.in_force(day) else None,
                }
                for r in board.rules
            ],
            "plans_offering": float(ts["plans_offering"].iloc[-1]),
        }
    if m.exchanges.n:
        out["exchanges"] = {
            "failed": [int(k) for k in np.flatnonzero(m.exchanges.failed)],
            "lost_usd": float(m.exchanges.lost_usd.sum()),
            "plan_custody_segregated": m.config.exchanges.plan_custody_segregated,
        }
    return out


def _fiscal_detail(m: Crypto401kModel) -> dict[str, Any]:
    """The government's revenue by year of the run (USD; the present values are metrics)."""
    ledger = m.projected_ledger()
    years = int(np.ceil(m.day / 365.0)) + 1
    return {
        "discount_rate": m.config.fiscal.discount_rate,
        "revenue_by_year_usd": {
            "roth": ledger.by_year("roth", years).tolist(),
            "withdrawal": ledger.by_year("withdrawal", years).tolist(),
            "note": "the run's years; withdrawals projected beyond them are in the present "
            "values only",
        },
    }


# ---- the output folder ----------------------------------------------------------------------
# the mode a plain open() gives a new file (0o666 less the umask), for the files written through
# tempfile.mkstemp (whose 0o600 would leave an experiment's files unreadable to the group that
# can read its figures and a run's files); the umask read once, at import
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
TMP_TAG = "crypto401k-tmp"  # `run` writes .NAME.crypto401k-tmp-PID beside the output folder
OLD_TAG = "crypto401k-old"  # and moves an earlier run's folder to .NAME.crypto401k-old-PID
# characters those names add to the output folder's own name (a pid has at most 7 digits)
_TAG_ROOM = len(f"..{TMP_TAG}-") + 7


def check_out_location(raw: str | Path, name: str = "out", inside: bool = False) -> Path:
    """The output folder `raw` as a Path; ConfigError if it cannot be created and written:
    an empty name, a name too long for the file system, a file on the way, a place that cannot
    be written (read-only, /proc, /sys). Run before any simulation. It leaves nothing behind:
    the write test makes an empty folder and removes it at once. `inside`: the output is
    written inside an existing folder (an experiment's), not beside it (a run's)."""
    text = str(raw)
    if not text.strip():
        raise ConfigError(f"{name} = {text!r}: must name a folder, e.g. runs/mine")
    if "\0" in text:
        raise ConfigError(f"{name} = {text!r}: must not contain a NUL character")
    out = Path(text)
    here = out
    while not os.path.exists(here) and here != here.parent:  # False, not an error, if too long
        here = here.parent
    name_max = _name_max(here)
    for k, part in enumerate(out.parts):
        room = _TAG_ROOM if k == len(out.parts) - 1 else 0
        if len(os.fsencode(part)) > name_max - room:
            raise ConfigError(
                f"{name} = {text!r}: the name {part[:20] + '...'!r} is "
                f"{len(os.fsencode(part))} bytes long; at most {name_max - room} allowed here"
            )
    if os.path.exists(here) and not os.path.isdir(here):
        what = "exists and is not a folder" if here == out else f"{str(here)!r} is a file"
        raise ConfigError(f"{name} = {text!r}: {what}; choose another folder")
    probe_in = out if here == out and inside else (out.parent if here == out else here)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".crypto401k-probe-", dir=probe_in))
    except OSError as exc:
        raise ConfigError(
            f"{name} = {text!r}: cannot write in {str(probe_in)!r} ({exc.strerror or exc}); "
            "choose a folder you can write"
        ) from None
    return out


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale_temporaries(out: Path) -> list[Path]:
    """Remove the temporary folders an earlier `run` into `out` left when it was killed
    (.NAME.crypto401k-tmp-PID and .NAME.crypto401k-old-PID whose process is gone)."""
    removed = []
    if not out.parent.is_dir():
        return removed
    for tag in (TMP_TAG, OLD_TAG):
        for p in out.parent.glob(f".{out.name}.{tag}-*"):
            pid = p.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed


def prepare_out_dir(out: Path) -> None:
    """Refuse a folder that `write_outputs` must not replace: anything but a missing or empty
    folder or an earlier run's output, i.e. exactly RUN_FILES, each a plain file, with a
    summary.json a run wrote (a user's own config.toml or summary.json there is theirs). Also
    refused: a symbolic link (replacing it would leave its target as it was) and the current
    folder or one above it (the shell would be left in a deleted folder)."""
    text = str(out)
    if out.is_symlink():
        raise ConfigError(
            f"out = {text!r}: is a symbolic link; choose the folder it points to "
            f"({os.path.realpath(out)!r}) or another folder"
        )
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"out = {text!r}: exists and is not a directory")
    here = Path.cwd().resolve()
    if out.resolve() == here or out.resolve() in here.parents:
        raise ConfigError(
            f"out = {text!r}: is the current folder or holds it, which a run's output replaces; "
            "choose a folder inside it, e.g. runs/mine"
        )
    entries = list(out.iterdir())
    if not entries:
        return
    foreign = sorted(
        p.name for p in entries if p.name not in RUN_FILES or p.is_symlink() or not p.is_file()
    )
    if foreign or len(entries) != len(RUN_FILES) or not _written_by_a_run(out / "summary.json"):
        what = ", ".join(foreign[:3]) if foreign else "not all four of a run's files"
        raise ConfigError(
            f"out = {text!r}: exists and is not an earlier crypto401k run's output ({what}); "
            "choose another directory"
        )


def _written_by_a_run(summary: Path) -> bool:
    """True if `summary` is the summary.json a run writes (a JSON object with its keys)."""
    try:
        data = json.loads(summary.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"version", "seed", "days", "metrics"} <= data.keys()


def write_outputs(out: Path, cfg: Config, ts: pd.DataFrame, summary: dict[str, Any]) -> None:
    """Write all files into a temporary sibling directory, then move it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(out)
    # a recognisable name, so that a killed run's folder is found and removed by the next
    tmp = out.with_name(f".{out.name}.{TMP_TAG}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        ts.to_parquet(tmp / "timeseries.parquet")
        ts.to_csv(tmp / "timeseries.csv")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=json_default))
        (tmp / "config.toml").write_text(tomli_w.dumps(cfg.to_toml_dict()))
        if out.exists():
            old = out.with_name(f".{out.name}.{OLD_TAG}-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def json_default(obj: Any) -> Any:
    """numpy scalars and arrays as plain JSON values."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
