"""One browser session's run: the model, its twin without crypto, and the thread that plays it.

The model is only ever touched under `Session.lock`: the play thread steps it a batch of days
at a time and the views read it between batches, so a view never sees a data collector in the
middle of a step (the page used to die at the fastest play speed on exactly that). A run stops
at its last day (`run.steps`) whatever the batch size.

The twin is the same scenario and seed with `savers.allocation = 0`: the model draws the same
random numbers every day whatever the parameters (common random numbers), so the two runs
differ only by the 401(k) money in crypto. It is stepped in lockstep with the model, and the
savers' plan assets of both are recorded every day.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import tomli_w
from crypto401k.model.agents.institution import KIND_NAMES, Institution
from crypto401k.model.agents.saver import RetirementSaver
from crypto401k.model.agents.trader import RetailTrader
from crypto401k.model.agents.view import RowAgent
from crypto401k.model.config import Config
from crypto401k.model.model import Crypto401kModel

SPEEDS = {  # label -> target days per second of play (None: as fast as the page keeps up)
    "1 day/s": 1.0,
    "10 days/s": 10.0,
    "30 days/s": 30.0,
    "fastest": None,
}
DEFAULT_SPEED = "30 days/s"
BATCH_SECONDS = 0.25  # s: a batch of days steps at least this long (or as long as a frame
# took to draw, up to 2 s, so that a slow page still spends half the time simulating)


def plan_assets(m: Crypto401kModel) -> float:
    """Savers' 401(k) assets today, USD: non-crypto balances plus crypto at today's price."""
    return float(m.savers.other.sum() + m.savers.coins.sum(axis=0) @ m.market.price)


class Session:
    """A model built from a `Config`, its twin without crypto, and the state of play.

    `day` is the number of days simulated (the last row of the time series; 0 = initial
    state), `last_day` the run's length. `on_frame` is called (without the lock) after every
    batch of days the play thread runs, and when it stops.
    """

    def __init__(self, cfg: Config, on_frame: Callable[[], None] | None = None) -> None:
        self.lock = threading.RLock()
        self.model = Crypto401kModel(cfg)
        self.twin = Crypto401kModel(cfg.with_overrides({"savers.allocation": 0.0}))
        self.assets = [plan_assets(self.model)]  # USD, one per day, with crypto
        self.assets_twin = [plan_assets(self.twin)]  # USD, the twin's
        self.on_frame = on_frame
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.target: int | None = None  # the day a run (play, run N days) stops at
        self.speed: float | None = SPEEDS[DEFAULT_SPEED]
        self.started_at = 0  # the day the current run started (for its progress)

    @property
    def config(self) -> Config:
        return self.model.config

    @property
    def day(self) -> int:
        return self.model.steps

    @property
    def last_day(self) -> int:
        return self.model.config.run.steps

    @property
    def finished(self) -> bool:
        return self.day >= self.last_day

    @property
    def playing(self) -> bool:
        return self.target is not None and not self._stop.is_set()

    def step(self, days: int = 1) -> int:
        """Simulate up to `days` days (never past the last day); the days simulated."""
        with self.lock:
            n = max(0, min(days, self.last_day - self.day))
            for _ in range(n):
                self.model.step()
                self.twin.step()
                self.assets.append(plan_assets(self.model))
                self.assets_twin.append(plan_assets(self.twin))
            return n

    # ---- play -------------------------------------------------------------------------
    def play(self, days: int | None = None, speed: float | None = None) -> None:
        """Run in a background thread: `days` days (None: to the end) at `speed` days per
        second (None: as fast as possible, a frame after every batch)."""
        self.stop()
        if self.finished:
            return
        self.started_at = self.day
        self.target = self.last_day if days is None else min(self.last_day, self.day + days)
        self.speed = speed
        stop = self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(stop,), name="crypto401k-play", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the play thread before its next day. It is not waited for (a page event
        may stop it while the thread draws a frame); a stopped thread steps no more."""
        self._stop.set()
        self.target = None

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for the play thread to end (for scripts and tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _loop(self, stop: threading.Event) -> None:
        start, done, target = time.perf_counter(), 0, self.target or 0
        budget = BATCH_SECONDS  # a batch steps at least as long as the last frame took to draw
        try:
            while not stop.is_set() and self.day < target:
                batch_start = time.perf_counter()
                if self.speed is None:  # as many days as fit in a batch
                    due = target - self.day
                else:  # the days due by now at this speed (at least one)
                    due = max(1, int(self.speed * (batch_start - start)) - done)
                n = 0
                while n < due and self.day < target:
                    with self.lock:  # checked under the lock: a stopped run steps no more
                        if stop.is_set():
                            break
                        n += self.step(1)
                    if time.perf_counter() - batch_start > budget:
                        break
                done += n
                drawn = time.perf_counter()
                self._frame()
                budget = max(BATCH_SECONDS, min(time.perf_counter() - drawn, 2.0))
                if self.speed is not None:  # wait until the next day is due
                    wait = (done + 1) / self.speed - (time.perf_counter() - start)
                    if wait > 0:
                        stop.wait(wait)
        finally:
            if self._stop is stop:  # still the current run
                self.target = None
                self._thread = None
            self._frame()

    def notify(self) -> None:
        """Tell the page that the model changed (it redraws)."""
        if self.on_frame is not None:
            self.on_frame()

    _frame = notify

    # ---- what the page shows and downloads ------------------------------------------------
    def timeseries(self) -> pd.DataFrame:
        """The model's time series so far, as `crypto401k run` writes it (index `day`)."""
        with self.lock:
            ts = self.model.datacollector.get_model_vars_dataframe()
        ts.index.name = "day"
        return ts

    def timeseries_csv(self) -> bytes:
        """The time series so far as CSV, byte for byte what `crypto401k run --config
        <config.toml> --steps <day>` writes to timeseries.csv."""
        buf = io.StringIO()
        self.timeseries().to_csv(buf)
        return buf.getvalue().encode()

    def config_toml(self) -> bytes:
        """The scenario on screen as TOML (`crypto401k run --config` reads it), with a header
        naming the day shown and the command that reproduces it."""
        day = self.day
        head = (
            f"# crypto401k app: this scenario, shown at day {day} of {self.last_day}.\n"
            f"# crypto401k run --config config.toml --steps {max(day, 1)} reproduces the"
            " time series on screen\n# (without --steps it runs all run.steps days).\n\n"
        )
        return (head + tomli_w.dumps(self.config.to_toml_dict())).encode()

    def assets_effect(self) -> np.ndarray:
        """Savers' plan assets against the same run without crypto, per day: with / without
        - 1 (a fraction; negative when crypto cost them)."""
        with self.lock:
            a, b = np.asarray(self.assets), np.asarray(self.assets_twin)
        return a / b - 1.0

    def node_state(self, node: int) -> dict[str, Any]:
        """The state of the agent on a node of the market graph, as label -> text."""
        with self.lock:
            return node_state(self.model, node)


def node_state(m: Crypto401kModel, node: int) -> dict[str, str]:
    """What the page shows for a clicked node: the agent's type and its state today (the
    Mesa agent on that node, read through its properties)."""
    if not 0 <= node < m.n_nodes:
        raise ValueError(f"node = {node}: must be between 0 and {m.n_nodes - 1}")
    agents = getattr(m, "_app_agents_by_node", None)
    if agents is None:  # built once per model: the agents never move
        agents = {a.node: a for a in m.agents if isinstance(a, RowAgent)}
        m._app_agents_by_node = agents
    a = agents[node]
    if isinstance(a, RetirementSaver):
        balance = a.balance + a.crypto_wealth
        return {
            "agent": f"saver cohort {a.row} (employer {a.employer})",
            "age": f"{a.age:.1f} years",
            "plan balance": f"${balance / 1e6:,.1f}M",
            "crypto share": f"{a.crypto_wealth / balance:.2%}" if balance > 0 else "-",
            "plan style": a.plan_style.replace("_", "-"),
            "plan offers crypto": "yes" if m.savers.offering[a.row] else "no",
            "panic": "panicked" if a.panicked else "calm",
        }
    if isinstance(a, RetailTrader):
        return {
            "agent": f"retail trader {a.row}",
            "type": a.strategy,
            "leverage": f"{a.leverage:.2f}x (largest position / equity)",
            "equity": f"${a.equity:,.0f}",
            "state": "recently liquidated" if a.liquidated else "trading",
        }
    if isinstance(a, Institution):
        inst = m.institutions
        owed = inst.loans[a.row]
        j = int(np.argmax(owed))
        if owed[j] <= 0:
            lender = "none"
        elif j == inst.n:
            lender = f"outside lenders (${owed[j] / 1e9:,.2f}B owed)"
        else:
            lender = f"institution {j}, a {KIND_NAMES[inst.kind[j]]} (${owed[j] / 1e9:,.2f}B owed)"
        return {
            "agent": f"institution {a.row}, a {a.kind.replace('_', ' ')}",
            "state": "operating" if a.alive else "defaulted",
            "leverage": f"{a.leverage:.2f}x",
            "equity": f"${a.equity / 1e9:,.2f}B",
            "largest lender": lender,
        }
    return {
        "agent": f"exchange {a.row}",
        "market share": f"{a.market_share:.1%}",
        "state": "failed" if a.failed else "operating",
        "customers' coins": f"${a.wealth / 1e9:,.2f}B",
    }
