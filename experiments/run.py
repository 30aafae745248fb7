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
from crypto401k.model import __version__, metrics
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
    """Headline metrics of a finished run (JSON-serialisable)."""
    prices = ts["price"].to_numpy()
    r = metrics.log_returns(prices)
    cfg = m.config
    history = m.regulator.ladder.history
    return {
        "version": __version__,
        "seed": m.seed,
        "days": int(len(ts) - 1),
        "agents": {
            "savers": cfg.savers.n_cohorts,
            "traders": cfg.traders.n_traders,
            "institutions": cfg.n_institutions,
        },
        "price": {
            "initial": float(prices[0]),
            "final": float(prices[-1]),
            "min": float(prices.min()),
            "max": float(prices.max()),
        },
        "divergence": {  # a diverged run is a failure of the model, never data
            "diverged": m.diverged,
            "bound_ratio": cfg.run.divergence_ratio,
            "max_abs_log_price_over_fundamental": dict(
                zip(m.asset_names, m.max_mispricing.tolist(), strict=True)
            ),
        },
        "annualized_volatility": metrics.annualized_volatility(r),
        "excess_kurtosis": metrics.excess_kurtosis(r),
        "max_drawdown": metrics.max_drawdown(prices),
        "crash_days": metrics.crash_days(r),
        "savers": {
            "crypto_wealth_usd": float(ts["saver_crypto_wealth"].iloc[-1]),
            "loss_usd": float(ts["saver_loss"].iloc[-1]),
            "loss_share_of_401k_assets": float(ts["saver_loss_share"].iloc[-1]),
            "max_panicked_cohorts": int(ts["panicked_savers"].max()),
        },
        "institutions": {
            "defaults": int(ts["defaults"].iloc[-1]),
            "failed": [{"day": d, "institution": i} for d, i in m.failed],
        },
        "retail_liquidations": int(ts["liquidations"].iloc[-1]),
        **_policy_summary(m, ts, history),
        "fiscal": _fiscal_summary(m),
        "books": books_check(m),
        **_several_asset_summary(m, ts),
        "wall_time_s": wall_time_s,
    }


def _policy_summary(m: Crypto401kModel, ts: pd.DataFrame, history: list) -> dict[str, Any]:
    """The single regulator's rungs, or the agencies' rules and stages."""
    if m.board is None:
        level = int(ts["policy_level"].max())
        return {
            "regulator": {
                "max_level": level,
                "max_action": RUNG_NAMES[level],
                "actions": [{"day": d, "level": lv, "action": RUNG_NAMES[lv]} for d, lv in history],
                "days_halted": int(ts["halted"].sum()),
            }
        }
    board, day = m.board, m.day
    return {
        "agencies": {
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
            "days_halted": int(ts["halted"].sum()),
        }
    }


def _fiscal_summary(m: Crypto401kModel) -> dict[str, Any]:
    """The government's ledger: present values at the configured discount rate (USD)."""
    ledger = m.projected_ledger()
    cfg = m.config.fiscal
    years = int(np.ceil(m.day / 365.0)) + 1
    return {
        "discount_rate": cfg.discount_rate,
        **ledger.summary(cfg.discount_rate),
        "rescue_day": m.rescued_day,
        "rescue_usd": m.rescue_usd,
        "revenue_by_year_usd": {
            "roth": ledger.by_year("roth", years).tolist(),
            "withdrawal": ledger.by_year("withdrawal", years).tolist(),
            "note": "the run's years; withdrawals projected beyond them are in the present "
            "values only",
        },
    }


def _several_asset_summary(m: Crypto401kModel, ts: pd.DataFrame) -> dict[str, Any]:
    """Each asset's prices and volatility, the exchanges' failures and the stablecoin's peg
    (only the parts the scenario has)."""
    out: dict[str, Any] = {}
    if len(m.asset_names) > 1:
        out["assets"] = {}
        for name in m.asset_names:
            p = ts[f"price_{name}"].to_numpy()
            out["assets"][name] = {
                "initial": float(p[0]),
                "final": float(p[-1]),
                "min": float(p.min()),
                "max": float(p.max()),
                "annualized_volatility": metrics.annualized_volatility(metrics.log_returns(p)),
            }
    if m.exchanges.n:
        out["exchanges"] = {
            "n": m.exchanges.n,
            "failed": [int(k) for k in np.flatnonzero(m.exchanges.failed)],
            "lost_usd": float(m.exchanges.lost_usd.sum()),
            "plan_custody_segregated": m.config.exchanges.plan_custody_segregated,
        }
    if m.stablecoin is not None:
        sc = m.stablecoin
        out["stablecoin"] = {
            "name": m.asset_names[m.stable_index],
            "min_price": float(ts[f"price_{m.asset_names[m.stable_index]}"].min()),
            "days_off_peg": sc.days_broken,
            "peg_broken_at_end": bool(sc.broken),
            "supply_end": sc.supply,
            "redeemed": sc.redeemed,
        }
    return out


# ---- the books ---------------------------------------------------------------------------
# Relative tolerance of the books check at the end of a run. The property tests check every
# step at 1e-11 of the largest gross balance seen; a whole run's rounding stays far below
# 1e-9 of the end's gross balances, and a real leak (a dollar created or lost by a rule) is
# many orders of magnitude larger.
BOOKS_RTOL = 1e-9
BOOKS_ATOL_COINS = 1e-6  # coins: below any holding the model tracks


class BooksError(RuntimeError):
    """The run's books do not balance (a model bug, not a user's mistake)."""


def books_check(m: Crypto401kModel, rtol: float = BOOKS_RTOL) -> dict[str, Any]:
    """Every conserved quantity of `m` against its recorded boundary flows, with the
    tolerance each is held to and a verdict. `ok` is False if any error exceeds its
    tolerance or is not finite (NaN never passes). Errors in USD or coins."""
    b = m.books()
    led = m.ledger
    gross_cash = (
        np.abs(m.traders.cash).sum()
        + np.abs(m.institutions.cash).sum()
        + abs(m.outside_cash)
        + m.institutions.loans.sum()
        + led.to_market
        + led.from_market
        + 1.0
    )
    coins_err = np.asarray(b["coins"], float) - np.asarray(b["coins_expected"], float)
    plan_scale = abs(b["plan_dollars_expected"]) + led.payroll_in + led.to_market + 1.0
    checks: list[tuple[str, float, float]] = [
        ("cash_error_usd", b["cash"] - b["cash_expected"], rtol * gross_cash),
        (
            "plan_dollars_error_usd",
            b["plan_dollars"] - b["plan_dollars_expected"],
            rtol * plan_scale,
        ),
    ]
    coins_tol = rtol * np.abs(np.asarray(b["coins_expected"], float)) + BOOKS_ATOL_COINS
    if "stable_supply" in b:
        # the issuer: its supply is the coins held plus those lost in failed institutions
        # (still outstanding, never redeemed), and its reserve plus shortfall
        lost = float(led.lost_coins[m.stable_index])
        stol = rtol * abs(b["stable_supply"]) + BOOKS_ATOL_COINS
        checks += [
            (
                "stable_supply_vs_held_error",
                b["stable_supply"] - b["stable_coins_held"] - lost,
                stol,
            ),
            (
                "stable_supply_vs_reserve_error",
                b["stable_supply"] - b["stable_reserve_plus_shortfall"],
                stol,
            ),
        ]
    failed = [name for name, err, tol in checks if not abs(err) <= tol]  # NaN fails
    if not np.all(np.abs(coins_err) <= coins_tol):
        failed.append("coins_error")
    out: dict[str, Any] = {name: float(err) for name, err, _ in checks}
    out["coins_error"] = coins_err.tolist()
    out["tolerance"] = {name: float(tol) for name, _, tol in checks}
    out["tolerance"]["coins_error"] = coins_tol.tolist()
    out["rtol"] = rtol
    out["ok"] = not failed
    out["failed"] = failed
    return out


def books_line(books: dict[str, Any]) -> str:
    """The books check as one line of the printed summary."""
    if books["ok"]:
        return f"balanced (every error within {books['rtol']:g} of its gross balance)"
    parts = []
    for name in books["failed"]:
        err, tol = books[name], books["tolerance"][name]
        if isinstance(err, list):
            k = int(np.nanargmax(np.abs(err))) if np.isfinite(err).any() else 0
            err, tol = err[k], tol[k]
        parts.append(f"{name} = {err:.6g} (tolerance {tol:.3g})")
    return "DO NOT BALANCE: " + "; ".join(parts)


# ---- the output folder ----------------------------------------------------------------------
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
    """Refuse to overwrite a directory that is not an earlier run's output."""
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"out = {str(out)!r}: exists and is not a directory")
        contents = {p.name for p in out.iterdir()}
        if contents and not contents <= set(RUN_FILES):
            raise ConfigError(
                f"out = {str(out)!r}: exists and holds files that are not a crypto401k run's "
                f"({', '.join(sorted(contents - set(RUN_FILES))[:3])}); choose another directory"
            )


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
