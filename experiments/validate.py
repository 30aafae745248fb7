"""Validation: the no-401(k) baseline's stylized facts against real Bitcoin.

For each of N seeds the baseline (savers' allocation 0) runs for Y years; every stylized fact
of `model.metrics.stylized_facts` is computed per seed. Each fact is reported next to its value
on the shipped Bitstamp series, with the model's mean and 5-95% band across seeds, and
whether the real value lies in the band.

The method-of-simulated-moments distance (Franke & Westerhoff 2012) is

    J = (m_model - m_real)' W (m_model - m_real)

where m_model is the seed-average of the moments, and W is the inverse of the covariance of
the real moments estimated by a moving-block bootstrap of the real returns. Block length:
`BLOCK_DAYS`. Draws: `BOOTSTRAP_DRAWS`. The generator is seeded, so J is reproducible.
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from crypto401k.experiments.sweep import in_processes
from crypto401k.model import metrics as mt
from crypto401k.model import scenarios
from crypto401k.model.config import Config, ConfigError
from crypto401k.model.data import load_btc_close, load_closes
from crypto401k.model.model import Crypto401kModel

# every fact but the lag-100 clustering and the drawdown, which one path's history dominates
MSM_MOMENTS = tuple(k for k in mt.FACT_NAMES if k not in {"acf_abs_r_lag100", "max_drawdown"})
BLOCK_DAYS = 50
BOOTSTRAP_DRAWS = 500
BOOTSTRAP_SEED = 20141128  # first day of the Bitstamp series
ACF_LAGS = np.arange(1, 101)


def baseline_run(seed: int, years: float, overrides: dict | None = None) -> dict[str, Any]:
    """One no-401(k) baseline run: its facts and the pieces the figures need."""
    settings = {"savers.allocation": 0.0, "run.steps": round(365 * years), **(overrides or {})}
    m = Crypto401kModel(rng=seed, **settings)
    m.run()
    prices = m.datacollector.get_model_vars_dataframe()["price"].to_numpy()
    r = mt.log_returns(prices)
    return {
        "facts": mt.stylized_facts(prices),
        "returns": r,
        "acf_abs": mt.autocorrelation(np.abs(r), ACF_LAGS),
    }


# The several-asset check: the coins of the built-in four-asset scenario (BTC, ETH, a
# DeFi-token basket; its stablecoin stays at par with no shock) against Bitstamp BTC, ETH and
# LTC (Litecoin stands in for the smaller token). Sizes and calibration:
# model/scenarios/four_assets.toml and docs/calibration.md.
SEVERAL_ASSETS = "four_assets"
DATA_NAMES = ("btc", "eth", "ltc")  # the data's series for the model's assets, in order


def assets_run(seed: int, years: float) -> dict[str, Any]:
    """One no-401(k) run of the several-asset scenario: each asset's annualized volatility
    and the return correlation matrix."""
    cfg = scenarios.load(SEVERAL_ASSETS)
    m = Crypto401kModel(
        cfg, rng=seed, **{"savers.allocation": 0.0, "run.steps": round(365 * years)}
    )
    m.run()
    df = m.datacollector.get_model_vars_dataframe()
    prices = df[[f"price_{name}" for name in coin_names(cfg)]].to_numpy()
    vols, corr = mt.cross_asset_facts(prices)
    return {"vols": vols, "corr": corr}


def coin_names(cfg: Config) -> list[str]:
    """The scenario's coins (not its stablecoin), matched to DATA_NAMES in order."""
    names = [a.name for a in cfg.assets if a.kind == "coin"]
    return names[: len(DATA_NAMES)]


def read_assets_data(data: str | Path | None = None) -> np.ndarray:
    """Closes of the DATA_NAMES series, shape (days, 3); ConfigError naming `data`."""
    try:
        with warnings.catch_warnings():  # numpy warns on an empty file: the error says it
            warnings.simplefilter("ignore")
            _, names, closes = load_closes(data)
        missing = [n for n in DATA_NAMES if n not in names]
        if missing:
            raise ValueError(f"no {', '.join(n + '_close' for n in missing)} column")
    except ValueError as exc:
        raise ConfigError(f"data = {str(data)!r}: {exc}") from None
    except (IndexError, TypeError, AttributeError):  # numpy on an empty or one-row file
        raise ConfigError(
            f"data = {str(data)!r}: must be a CSV with date,btc_close,eth_close,"
            f"ltc_close columns and at least {MIN_DATA_DAYS} rows"
        ) from None
    if len(closes) < MIN_DATA_DAYS:
        raise ConfigError(
            f"data = {str(data)!r}: {len(closes)} rows; at least {MIN_DATA_DAYS} "
            "daily closes needed"
        )
    return closes[:, [names.index(n) for n in DATA_NAMES]]


def validate_assets(
    seeds: int, years: float, workers: int = 2, data: str | Path | None = None
) -> dict[str, Any]:
    """Each asset's volatility and each pair's return correlation, model (mean and 5-95%
    band over seeds) against the data. Names follow SEVERAL_ASSETS."""
    check_sweep(seeds, years, workers)
    real_vols, real_corr = mt.cross_asset_facts(read_assets_data(data))
    runs = map_seeds(assets_run, range(seeds), years, workers)
    model_names = coin_names(scenarios.load(SEVERAL_ASSETS))
    facts = {}
    for k, name in enumerate(model_names):
        facts[f"volatility {name} ({DATA_NAMES[k].upper()})"] = fact(
            real_vols[k], np.array([r["vols"][k] for r in runs])
        )
    for i in range(len(model_names)):
        for j in range(i + 1, len(model_names)):
            facts[f"correlation {model_names[i]}-{model_names[j]}"] = fact(
                real_corr[i, j], np.array([r["corr"][i, j] for r in runs])
            )
    return {"facts": facts, "seeds": seeds, "years": years}


def format_assets_table(result: dict[str, Any]) -> str:
    title = (
        f"several assets: no-401(k) baseline, {result['seeds']} seeds x {result['years']:g} "
        "years, against Bitstamp BTC, ETH, LTC (LTC stands in for the DeFi basket)"
    )
    return "\n".join([title, *_fact_lines(result["facts"], "data", 28)])


def fact(real: float, values: np.ndarray) -> dict[str, Any]:
    """A fact's real value beside the model's mean and 5-95% band over seeds."""
    p05, p95 = np.nanpercentile(values, [5, 95])
    return {
        "real": float(real),
        "model_mean": float(np.nanmean(values)),
        "model_p05": float(p05),
        "model_p95": float(p95),
        "in_band": bool(p05 <= real <= p95),
    }


def _fact_lines(facts: dict[str, dict[str, Any]], real_label: str, width: int) -> list[str]:
    lines = [
        f"{'fact':{width}s} {real_label:>9s} {'model mean':>11s} {'5%':>9s} {'95%':>9s}  in band"
    ]
    for name, f in facts.items():
        lines.append(
            f"{name:{width}s} {f['real']:9.3f} {f['model_mean']:11.3f} {f['model_p05']:9.3f} "
            f"{f['model_p95']:9.3f}  {'yes' if f['in_band'] else 'no'}"
        )
    return lines


def map_seeds(fn, seeds, years: float, workers: int) -> list:
    """fn(seed, years) for each seed, in seed order; in `workers` processes (the sweep's
    pool), or in this process when workers is 1. The result does not depend on the number of
    workers; a worker's error is raised."""
    seeds = list(seeds)
    if workers <= 1 or len(seeds) <= 1:
        return [fn(s, years) for s in seeds]
    results: list[Any] = [None] * len(seeds)
    for j, fut in in_processes(workers, partial(_by_seed, fn, years), seeds):
        results[j] = fut.result()
    return results


def _by_seed(fn, years: float, seed: int) -> Any:
    return fn(seed, years)


MAX_SEEDS = 100_000  # seeds of one sweep: 10,000x the canonical 30 would take months
MAX_YEARS = 1000.0  # run.steps allows at most 365,000 days
MAX_WORKERS = 1024  # local processes


def check_sweep(
    seeds: int, years: float, workers: int, typed: dict[str, str] | None = None
) -> None:
    """Validate a sweep's size once, at the boundary; raise ConfigError naming the parameter
    and its value as the user typed it (`typed`: name -> text; default: the number)."""
    typed = typed or {}
    shown = {
        "seeds": typed.get("seeds", str(seeds)),
        "years": typed.get("years", f"{years:g}"),
        "workers": typed.get("workers", str(workers)),
    }
    if not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"seeds = {shown['seeds']}: must be an integer from 1 to {MAX_SEEDS:,}")
    if not (math.isfinite(years) and 0 < years <= MAX_YEARS):
        raise ConfigError(
            f"years = {shown['years']}: must be a number of years in (0, {MAX_YEARS:g}]"
        )
    if round(365 * years) < 120:
        raise ConfigError(f"years = {shown['years']}: must be at least 0.33 (120 days of returns)")
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(
            f"workers = {shown['workers']}: must be an integer from 1 to {MAX_WORKERS}"
        )


MIN_DATA_DAYS = 2 * BLOCK_DAYS + int(ACF_LAGS[-1])  # the bootstrap's blocks and the ACF's lags


def read_btc_data(data: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(dates, closes) of the `data` file; ConfigError naming `data` if it is not a
    date,close CSV with at least MIN_DATA_DAYS positive closes."""
    try:
        with warnings.catch_warnings():  # numpy warns on an empty file: the error says it
            warnings.simplefilter("ignore")
            dates, close = load_btc_close(data)
    except ValueError as exc:
        raise ConfigError(f"data = {str(data)!r}: {exc}") from None
    except (IndexError, TypeError):  # numpy on an empty or one-row file
        raise ConfigError(
            f"data = {str(data)!r}: must be a CSV with a date,close header and at least "
            f"{MIN_DATA_DAYS} rows"
        ) from None
    if len(close) < MIN_DATA_DAYS:
        raise ConfigError(
            f"data = {str(data)!r}: {len(close)} rows; at least {MIN_DATA_DAYS} daily closes needed"
        )
    return dates, close


def bootstrap_moment_cov(
    returns: np.ndarray,
    draws: int = BOOTSTRAP_DRAWS,
    block: int = BLOCK_DAYS,
    seed: int = BOOTSTRAP_SEED,
) -> np.ndarray:
    """Covariance of the MSM moments over moving-block bootstrap resamples of `returns`."""
    rng = np.random.default_rng(seed)
    n = len(returns)
    n_blocks = int(np.ceil(n / block))
    samples = np.empty((draws, len(MSM_MOMENTS)))
    for b in range(draws):
        starts = rng.integers(0, n - block + 1, n_blocks)
        r = np.concatenate([returns[s : s + block] for s in starts])[:n]
        prices = np.exp(np.concatenate([[0.0], np.cumsum(r)]))
        facts = mt.stylized_facts(prices)
        samples[b] = [facts[k] for k in MSM_MOMENTS]
    return np.cov(samples, rowvar=False)


def msm_distance(model_moments: np.ndarray, real_moments: np.ndarray, cov: np.ndarray) -> float:
    """(m_model - m_real)' W (m_model - m_real) with W = pinv(cov)."""
    d = np.asarray(model_moments) - np.asarray(real_moments)
    return float(d @ np.linalg.pinv(cov) @ d)


def validate(
    seeds: int, years: float, workers: int = 2, data: str | Path | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]], np.ndarray]:
    """Run the validation. Returns (result, per-seed runs, real returns).

    The result is {"facts": {name: {real, model_mean, model_p05, model_p95, in_band}},
    "msm_distance": J, "seeds": N, "years": Y}.
    """
    check_sweep(seeds, years, workers)
    _, close = read_btc_data(data)
    real = mt.stylized_facts(close)
    runs = map_seeds(baseline_run, range(seeds), years, workers)
    table = np.array([[run["facts"][k] for k in mt.FACT_NAMES] for run in runs])
    facts = {name: fact(real[name], table[:, k]) for k, name in enumerate(mt.FACT_NAMES)}
    real_r = mt.log_returns(close)
    cov = bootstrap_moment_cov(real_r)
    model_m = np.array([facts[k]["model_mean"] for k in MSM_MOMENTS])
    real_m = np.array([real[k] for k in MSM_MOMENTS])
    result = {
        "facts": facts,
        "msm_distance": msm_distance(model_m, real_m, cov),
        "seeds": seeds,
        "years": years,
    }
    return result, runs, real_r


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"validation: no-401(k) baseline, {result['seeds']} seeds x {result['years']:g} years,"
        " against Bitstamp BTC/USD 2014-11..2020-01",
        *_fact_lines(result["facts"], "Bitcoin", 24),
    ]
    lines.append(f"MSM distance (inverse bootstrap covariance): {result['msm_distance']:.2f}")
    return "\n".join(lines)


def write_figures(out: Path, runs: list[dict[str, Any]], real_r: np.ndarray) -> list[Path]:
    """The return distribution (log density) and the |r| autocorrelation band, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    out.mkdir(parents=True, exist_ok=True)
    files = []
    model_r = np.concatenate([run["returns"] for run in runs])
    frame = pd.concat(
        [
            pd.DataFrame({"daily log return": real_r, "series": "Bitcoin (Bitstamp)"}),
            pd.DataFrame({"daily log return": model_r, "series": "model baseline"}),
        ]
    )
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sns.histplot(
        frame,
        x="daily log return",
        hue="series",
        stat="density",
        common_norm=False,
        element="step",
        fill=False,
        bins=120,
        ax=ax,
    )
    ax.set_yscale("log")
    ax.set_ylabel("density (log scale)")
    ax.set_title("Distribution of daily log returns")
    fig.tight_layout()
    files.append(out / "return_distribution.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)

    acfs = np.array([run["acf_abs"] for run in runs])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lo, hi = np.nanpercentile(acfs, [5, 95], axis=0)
    ax.fill_between(ACF_LAGS, lo, hi, alpha=0.3, label="model 5-95% across seeds")
    ax.plot(ACF_LAGS, np.nanmean(acfs, axis=0), label="model mean")
    ax.plot(
        ACF_LAGS,
        mt.autocorrelation(np.abs(real_r), ACF_LAGS),
        color="k",
        label="Bitcoin (Bitstamp)",
    )
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("lag (days)")
    ax.set_ylabel("autocorrelation of |daily log return|")
    ax.set_title("Volatility clustering")
    ax.legend()
    fig.tight_layout()
    files.append(out / "acf_abs_returns.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)
    return files
