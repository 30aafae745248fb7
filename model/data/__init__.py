"""Real price series shipped with the model (see README.md in this folder for provenance)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

BTC_FILE = "btc_usd_daily_bitstamp.csv"
MULTI_FILE = "crypto_usd_daily_bitstamp_btc_eth_ltc.csv"


def data_path(name: str = BTC_FILE) -> Path:
    """Path of a shipped data file."""
    return Path(str(resources.files(__name__).joinpath(name)))


def load_btc_close(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Daily Bitstamp BTC/USD closes: (dates as datetime64[D], closes in USD), date order.

    Raises ValueError with a clear message if the file is missing or malformed.
    """
    file = Path(path) if path is not None else data_path()
    try:
        raw = np.genfromtxt(file, delimiter=",", names=True, dtype=None, encoding="utf-8")
        dates = raw["date"].astype("datetime64[D]")
        close = raw["close"].astype(float)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(
            f"data file {str(file)!r}: cannot read a date,close series ({exc})"
        ) from None
    if len(close) < 2 or not np.all(np.isfinite(close)) or (close <= 0).any():
        raise ValueError(f"data file {str(file)!r}: closes must be positive numbers")
    order = np.argsort(dates)
    return dates[order], close[order]


def load_closes(path: str | Path | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Daily closes of several assets: (dates as datetime64[D], asset names as in the
    `<asset>_close` columns, closes in USD of shape (days, assets) with NaN before an asset's
    first day), date order. The shipped file holds BTC, ETH and LTC.

    Raises ValueError with a clear message if the file is missing or malformed.
    """
    file = Path(path) if path is not None else data_path(MULTI_FILE)
    try:
        raw = np.genfromtxt(file, delimiter=",", names=True, dtype=None, encoding="utf-8")
        columns = [c for c in raw.dtype.names if c.endswith("_close")]
        if not columns:
            raise ValueError("no <asset>_close column")
        dates = raw["date"].astype("datetime64[D]")
        closes = np.column_stack([raw[c].astype(float) for c in columns])
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(
            f"data file {str(file)!r}: cannot read date,<asset>_close columns ({exc})"
        ) from None
    seen = closes[np.isfinite(closes)]
    if len(dates) < 2 or (seen <= 0).any():
        raise ValueError(f"data file {str(file)!r}: closes must be positive numbers")
    order = np.argsort(dates)
    return dates[order], [c.removesuffix("_close") for c in columns], closes[order]
