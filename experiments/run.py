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
    books = m.books()
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
        "books": {
            "cash_error_usd": books["cash"] - books["cash_expected"],
            "coins_error": (books["coins"] - books["coins_expected"]).tolist(),
            "plan_dollars_error_usd": books["plan_dollars"] - books["plan_dollars_expected"],
        },
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


def prepare_out_dir(out: Path) -> None:
    """Refuse to overwrite a directory that is not an earlier run's output."""
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"--out = {str(out)!r}: exists and is not a directory")
        contents = {p.name for p in out.iterdir()}
        if contents and not contents <= set(RUN_FILES):
            raise ConfigError(
                f"--out = {str(out)!r}: exists and holds files that are not a crypto401k run's "
                f"({', '.join(sorted(contents - set(RUN_FILES))[:3])}); choose another directory"
            )


def write_outputs(out: Path, cfg: Config, ts: pd.DataFrame, summary: dict[str, Any]) -> None:
    """Write all files into a temporary sibling directory, then move it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        ts.to_parquet(tmp / "timeseries.parquet")
        ts.to_csv(tmp / "timeseries.csv")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=json_default))
        (tmp / "config.toml").write_text(tomli_w.dumps(cfg.to_toml_dict()))
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
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
