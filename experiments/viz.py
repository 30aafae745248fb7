"""The browser app's parts: the model as the app builds it, its controls, and its views.

`app.py` puts these into Mesa's `SolaraViz`. Everything is drawn with matplotlib, so the page
needs no JavaScript beyond Solara's own front end (which `.ci/solara-assets` installs for
offline use). The network's layout is computed once per model, from its structure (employer
blocks on a ring, traders inside, institutions at the centre), not by a force simulation.
"""

from __future__ import annotations

import html
import re
import weakref
from typing import Any

import numpy as np
import solara
from crypto401k.model import scenarios
from crypto401k.model.config import Config, ConfigError
from crypto401k.model.model import Crypto401kModel
from crypto401k.model.policy import RUNG_NAMES
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from mesa.visualization.utils import force_update, update_counter

PLAN_STYLES = {"target-date": 1.0, "self-directed": 0.0, "mixed (83% target-date)": 0.83}
TOPOLOGIES = ["stochastic_block", "barabasi_albert", "watts_strogatz", "erdos_renyi"]

# the app's controls: name -> (Mesa input spec); the values are the app's default scenario
CONTROLS: dict[str, dict[str, Any]] = {
    "market": {
        "type": "Select",
        "label": "market",
        "value": scenarios.DEFAULT,
        "values": scenarios.names(),
    },
    "allocation": {
        "type": "SliderFloat",
        "label": "401(k) crypto allocation",
        "value": 0.03,
        "min": 0.0,
        "max": 0.10,
        "step": 0.005,
    },
    "channel": {
        "type": "Select",
        "label": "inflow channel",
        "value": "payroll",
        "values": ["payroll", "payroll+reallocation"],
    },
    "plan_style": {
        "type": "Select",
        "label": "plan style",
        "value": "mixed (83% target-date)",
        "values": list(PLAN_STYLES),
    },
    "n_savers": {
        "type": "SliderInt",
        "label": "saver cohorts",
        "value": 2000,
        "min": 100,
        "max": 3000,
        "step": 100,
    },
    "n_traders": {
        "type": "SliderInt",
        "label": "retail traders",
        "value": 1000,
        "min": 100,
        "max": 2000,
        "step": 100,
    },
    "n_funds": {
        "type": "SliderInt",
        "label": "leveraged funds",
        "value": 10,
        "min": 0,
        "max": 40,
        "step": 1,
    },
    "topology": {
        "type": "Select",
        "label": "network",
        "value": "stochastic_block",
        "values": TOPOLOGIES,
    },
    "leverage": {
        "type": "SliderFloat",
        "label": "funds' target leverage (margin limit 3x)",
        "value": 2.0,
        "min": 1.0,
        "max": 5.0,
        "step": 0.25,
    },
    "trader_leverage": {
        "type": "SliderFloat",
        "label": "share of traders on leverage",
        "value": 0.05,
        "min": 0.0,
        "max": 0.3,
        "step": 0.01,
    },
    "regulator": {"type": "Checkbox", "label": "regulator on", "value": True},
    "threshold": {
        "type": "SliderFloat",
        "label": "regulator threshold",
        "value": 50.0,
        "min": 5.0,
        "max": 200.0,
        "step": 5.0,
    },
    "lag_days": {
        "type": "SliderInt",
        "label": "regulator lag (days)",
        "value": 120,
        "min": 0,
        "max": 365,
        "step": 10,
    },
    "shock_day": {
        "type": "SliderInt",
        "label": "shock day (0: none)",
        "value": 0,
        "min": 0,
        "max": 730,
        "step": 10,
    },
    "shock_size": {
        "type": "SliderFloat",
        "label": "shock: fundamental drop",
        "value": 0.3,
        "min": 0.0,
        "max": 0.9,
        "step": 0.05,
    },
    # the several-asset market's events (ignored in a scenario without exchanges or stablecoin)
    "custody": {"type": "Checkbox", "label": "plan coins in segregated custody", "value": True},
    "exchange_fail_day": {
        "type": "SliderInt",
        "label": "largest exchange fails on day (0: never)",
        "value": 0,
        "min": 0,
        "max": 730,
        "step": 10,
    },
    "reserve_risky": {
        "type": "SliderFloat",
        "label": "stablecoin reserve in its own token",
        "value": 0.0,
        "min": 0.0,
        "max": 1.0,
        "step": 0.05,
    },
    "reserve_shock_day": {
        "type": "SliderInt",
        "label": "stablecoin reserve loss on day (0: never)",
        "value": 0,
        "min": 0,
        "max": 730,
        "step": 10,
    },
    "reserve_loss": {
        "type": "SliderFloat",
        "label": "stablecoin reserve loss",
        "value": 0.0825,
        "min": 0.0,
        "max": 0.9,
        "step": 0.0025,
    },
    "seed": {"type": "InputText", "label": "seed", "value": "42"},
}
DEFAULTS = {k: v["value"] for k, v in CONTROLS.items()}


def base_config(params: dict[str, Any]) -> Config:
    """The scenario the controls name (ConfigError for an unknown one)."""
    return scenarios.load(str({**DEFAULTS, **params}["market"]))


def overrides_for(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(seed, dotted overrides) for the app's control values; ConfigError on a bad seed or
    an unknown scenario."""
    p = {**DEFAULTS, **params}
    base = base_config(p)
    try:
        seed = int(str(p["seed"]).strip())
    except ValueError:
        seed = -1
    if seed < 0:
        raise ConfigError(f"seed = {p['seed']!r}: must be a whole number >= 0")
    overrides = {
        "savers.allocation": float(p["allocation"]),
        "savers.channel": p["channel"],
        "savers.target_date_share": PLAN_STYLES[p["plan_style"]],
        "savers.n_cohorts": int(p["n_savers"]),
        "traders.n_traders": int(p["n_traders"]),
        "institutions.n_funds": int(p["n_funds"]),
        "traders.leverage_share": float(p["trader_leverage"]),
        "network.topology": p["topology"],
        "institutions.leverage_target": float(p["leverage"]),
        "regulator.enabled": bool(p["regulator"]),
        "regulator.threshold": float(p["threshold"]),
        "regulator.lag_days": int(p["lag_days"]),
        "shock.day": int(p["shock_day"]) or None,
        "shock.fundamental_drop": float(p["shock_size"]),
        "run.steps": 10 * 365,
    }
    if base.exchanges.n_exchanges:
        overrides["exchanges.plan_custody_segregated"] = bool(p["custody"])
        overrides["exchanges.fail_day"] = int(p["exchange_fail_day"]) or None
        overrides["exchanges.fail_exchange"] = 0
    if any(a.kind == "stablecoin" for a in base.assets):
        overrides["stablecoin.reserve_risky_share"] = float(p["reserve_risky"])
        overrides["stablecoin.shock_day"] = int(p["reserve_shock_day"]) or None
        overrides["stablecoin.shock_reserve_loss"] = float(p["reserve_loss"])
    return seed, overrides


# each browser session's last valid model; weak, so a closed session's model is freed
_last_valid: weakref.WeakValueDictionary[Any, AppModel] = weakref.WeakValueDictionary()


def _session() -> Any:
    """The browser session (Solara kernel) this code runs for; one key outside a server."""
    try:
        from solara.server import kernel_context

        return kernel_context.get_current_context().id
    except Exception:
        return None


class AppModel(Crypto401kModel):
    """The model built from the app's controls.

    If the controls make a configuration the model rejects, building returns the session's
    last valid model, still running, with `config_error` holding the configuration's message
    (so the page shows the message instead of a traceback, and the simulation goes on).
    """

    def __new__(cls, **params: Any) -> AppModel:
        try:
            base_config(params).with_overrides(overrides_for(params)[1])
        except ConfigError as exc:
            last = _last_valid.get(_session())
            if last is not None:
                last.config_error = str(exc)
                force_update()  # the page keeps the same model object: redraw it
                return last
            raise
        return super().__new__(cls)

    def __init__(self, **params: Any) -> None:
        if getattr(self, "_built", False):  # the last valid model, returned by __new__
            return
        seed, overrides = overrides_for(params)
        super().__init__(base_config(params), rng=seed, **overrides)
        self._built = True
        self.params = {**DEFAULTS, **params}
        self.config_error: str | None = None
        self.layout = structured_layout(self)
        self.edges = edge_image(self, self.layout)
        self.series_plot = SeriesPlot(self)
        _last_valid[_session()] = self


# ---- the network -------------------------------------------------------------------------
def structured_layout(m: Crypto401kModel) -> np.ndarray:
    """Node positions, shape (nodes, 2): employers' cohorts as small discs on an outer ring,
    traders in a disc inside it, exchanges on a ring between the two (largest first, at the
    top), institutions on a small central ring. Deterministic (golden-angle spirals, no random
    numbers) and O(nodes)."""
    n_s, n_r, n_i = m.savers.n, m.traders.n, m.institutions.n
    pos = np.zeros((m.n_nodes, 2))
    employers = m.savers.employer
    n_emp = m.config.savers.n_employers
    for e in range(n_emp):
        members = np.flatnonzero(employers == e)
        angle = 2 * np.pi * e / n_emp
        centre = np.array([np.cos(angle), np.sin(angle)])
        pos[members] = centre + _spiral(len(members), 0.9 * np.pi / n_emp)
    pos[n_s : n_s + n_r] = _spiral(n_r, 0.55)
    angles = 2 * np.pi * np.arange(n_i) / max(n_i, 1)
    pos[n_s + n_r : n_s + n_r + n_i] = 0.2 * np.column_stack([np.cos(angles), np.sin(angles)])
    n_x = m.exchanges.n
    angles = np.pi / 2 - 2 * np.pi * np.arange(n_x) / max(n_x, 1)
    pos[m.first_node["exchanges"] :] = 0.74 * np.column_stack([np.cos(angles), np.sin(angles)])
    return pos


def _spiral(n: int, radius: float) -> np.ndarray:
    k = np.arange(n) + 0.5
    r = radius * np.sqrt(k / max(n, 1))
    theta = k * np.pi * (3 - np.sqrt(5))
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)])


COLOURS = {
    "saver": "#4c72b0",
    "panicked saver": "#d62728",
    "trader": "#55a868",
    "liquidated trader": "#000000",
    "institution": "#8172b2",
    "defaulted institution": "#bbbbbb",
    "exchange": "#937860",
    "failed exchange": "#ff7f0e",
}
EDGE_COLOURS = {"social": "#999999", "exposure": "#dd8452", "custody": "#64b5cd"}


def node_colours(m: Crypto401kModel) -> np.ndarray:
    """Each node's colour (COLOURS): agent type, and panicked / liquidated / defaulted."""
    s = np.where(m.savers.panicked, "panicked saver", "saver")
    t = np.where(m.traders.fear(m.day), "liquidated trader", "trader")
    i = np.where(m.institutions.alive, "institution", "defaulted institution")
    x = np.where(m.exchanges.failed, "failed exchange", "exchange")
    return np.array([COLOURS[c] for c in np.concatenate([s, t, i, x])])


LIMIT = 1.25  # the layout fits in [-LIMIT, LIMIT]^2
NETWORK_INCHES, NETWORK_DPI = 6.2, 80


def edge_image(m: Crypto401kModel, pos: np.ndarray) -> np.ndarray:
    """The edges drawn once into an RGBA image (they do not change during a run), so that a
    frame only draws the nodes on top of it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(NETWORK_INCHES, NETWORK_INCHES), dpi=NETWORK_DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    lines: dict[str, list] = {layer: [] for layer in EDGE_COLOURS}
    for u, v, layer in m.graph.edges(data="layer"):
        lines[layer].append((pos[u], pos[v]))
    c = EDGE_COLOURS
    ax.add_collection(LineCollection(lines["social"], colors=c["social"], lw=0.15, alpha=0.35))
    ax.add_collection(LineCollection(lines["custody"], colors=c["custody"], lw=0.15, alpha=0.3))
    ax.add_collection(LineCollection(lines["exposure"], colors=c["exposure"], linewidths=1.2))
    ax.set_xlim(-LIMIT, LIMIT)
    ax.set_ylim(-LIMIT, LIMIT)
    ax.set_axis_off()
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def network_figure(m: AppModel) -> Figure:
    """One frame: the pre-drawn edges, and the nodes in today's colours (the colour key is in
    the status panel, so a frame draws no text)."""
    pos = m.layout
    fig = Figure(figsize=(NETWORK_INCHES, NETWORK_INCHES))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(m.edges, extent=(-LIMIT, LIMIT, -LIMIT, LIMIT), interpolation="nearest")
    colour = node_colours(m)
    agents = m.first_node["exchanges"]  # exchanges are drawn as squares, a failed one larger
    sizes = np.full(agents, 6.0)
    sizes[m.savers.n + m.traders.n :] = 40.0
    ax.scatter(pos[:agents, 0], pos[:agents, 1], s=sizes, c=colour[:agents], linewidths=0)
    if m.exchanges.n:
        size = 30.0 + 600.0 * m.exchanges.share
        size[m.exchanges.failed] *= 2.0
        ax.scatter(*pos[agents:].T, s=size, c=colour[agents:], marker="s", linewidths=0)
    ax.set_xlim(-LIMIT, LIMIT)
    ax.set_ylim(-LIMIT, LIMIT)
    ax.set_axis_off()
    return fig


def colour_key() -> str:
    """The network's colour key as HTML (node states, edge layers)."""
    items = [f'<span style="color:{c}">&#9679;</span> {label}' for label, c in COLOURS.items()]
    edges = {"social": "social edge", "exposure": "exposure edge (loan)", "custody": "custody"}
    items += [
        f'<span style="color:{EDGE_COLOURS[k]}">&#9472;</span> {label}'
        for k, label in edges.items()
    ]
    return " &nbsp; ".join(items)


@solara.component
def NetworkView(model: AppModel) -> None:
    update_counter.get()  # redraw after every step (SolaraViz bumps the counter)
    solara.FigureMatplotlib(
        network_figure(model), dependencies=[id(model), model.steps], format="png", dpi=NETWORK_DPI
    )


# ---- the time series ------------------------------------------------------------------------
SERIES_DPI = 70
MAX_POINTS = 600  # a line never needs more points than the figure has pixels


# (column, label, scale, axis index, style); axes column by column: price, volatility,
# savers | pressure, flows
SERIES = (
    ("price", "price", 1.0, 0, {}),
    ("fundamental", "fundamental", 1.0, 0, {"ls": "--"}),
    ("volatility_30d", None, 1.0, 1, {}),
    ("saver_crypto_wealth", "crypto wealth", 1e9, 2, {}),
    ("saver_loss", "cumulative loss", 1e9, 2, {}),
    ("regulator_pressure", "pressure", 1.0, 3, {}),
    ("flow_savers", "savers", 1e9, 4, {"lw": 0.8}),
    ("flow_traders", "traders", 1e9, 4, {"lw": 0.8}),
    ("flow_institutions", "institutions", 1e9, 4, {"lw": 0.8}),
)
YLABELS = (
    "USD/coin",
    "30-day vol\n[1/sqrt(yr)]",
    "savers [USD bn]",
    "pressure",
    "net flow\n[USD bn/day]",
)


class SeriesPlot:
    """The time-series figure of one model, built once; each frame only sets the lines' data
    and rescales (rebuilding the figure every step would cost more than the step itself)."""

    def __init__(self, m: AppModel) -> None:
        fig = self.figure = Figure(figsize=(9.0, 6.0))
        fig.subplots_adjust(left=0.09, right=0.93, top=0.98, bottom=0.08, hspace=0.15, wspace=0.4)
        axes = self.axes = fig.subplots(3, 2, sharex=True).T.ravel()
        axes[5].set_visible(False)
        self.lines = [
            axes[k].plot([], [], label=label, lw=style.get("lw", 1.0), ls=style.get("ls", "-"))[0]
            for _, label, _, k, style in SERIES
        ]
        axes[3].axhline(m.config.regulator.threshold, color="0.4", ls=":", lw=1, label="threshold")
        self.twin = axes[3].twinx()
        (self.policy,) = self.twin.step([], [], where="post", color="#c44e52", lw=1)
        self.twin.set_ylim(-0.2, 4.2)
        self.twin.set_ylabel("policy rung", color="#c44e52")
        for ax, label in zip(axes, YLABELS, strict=False):
            ax.set_ylabel(label)
        for k in (0, 2, 3, 4):
            axes[k].legend(fontsize=7, loc="upper left")
        axes[2].set_xlabel("day")
        axes[4].set_xlabel("day")

    def update(self, m: AppModel, asset: str | None = None) -> Figure:
        """Bring the lines up to date; the price panels show `asset` (the first if None)."""
        df = m.datacollector.get_model_vars_dataframe()
        columns = series_columns(m, asset)
        day = np.arange(len(df)) - 1
        stride = max(1, len(df) // MAX_POINTS)
        if stride > 1:  # thin long series, keeping the last day
            keep = np.unique(np.r_[np.arange(0, len(df), stride), len(df) - 1])
            df, day = df.iloc[keep], day[keep]
        for line, col, (_, _, scale, _, _) in zip(self.lines, columns, SERIES, strict=True):
            line.set_data(day, df[col].to_numpy() / scale)
        second = "reserve per coin" if columns[1] == "stable_coverage" else "fundamental"
        if self.lines[1].get_label() != second:
            self.lines[1].set_label(second)
            self.axes[0].legend(fontsize=7, loc="upper left")
        self.policy.set_data(day, df["policy_level"].to_numpy())
        for ax in self.axes[:5]:
            ax.relim()
            ax.autoscale_view()
        return self.figure


def series_columns(m: Crypto401kModel, asset: str | None = None) -> list[str]:
    """The time series' column behind each line of SERIES, the price panels' for `asset`:
    with a stablecoin, its peg price and its reserve per coin instead of a fundamental."""
    columns = [col for col, *_ in SERIES]
    if asset is None or len(m.asset_names) < 2:
        return columns
    columns[:3] = [f"{col}_{asset}" for col in columns[:3]]
    if m.stable_index is not None and asset == m.asset_names[m.stable_index]:
        columns[1] = "stable_coverage"
    return columns


def series_figure(m: AppModel, asset: str | None = None) -> Figure:
    """The model's time-series figure, brought up to date, price panels for `asset`."""
    return m.series_plot.update(m, asset)


@solara.component
def SeriesView(model: AppModel) -> None:
    update_counter.get()
    chosen, set_chosen = solara.use_state(model.asset_names[0])
    asset = chosen if chosen in model.asset_names else model.asset_names[0]
    if len(model.asset_names) > 1:
        with solara.Row(style={"align-items": "center"}):
            solara.Text("price panels:")
            solara.ToggleButtonsSingle(value=asset, values=model.asset_names, on_value=set_chosen)
    solara.FigureMatplotlib(
        series_figure(model, asset),
        dependencies=[id(model), model.steps, asset],
        format="png",
        dpi=SERIES_DPI,
    )


# ---- the text panel -----------------------------------------------------------------------
def status_text(m: AppModel) -> str:
    df = m.datacollector.get_model_vars_dataframe()
    price = float(df["price"].iloc[-1])
    drawdown = price / float(df["price"].cummax().iloc[-1]) - 1.0
    action = RUNG_NAMES[m.regulator.level]
    policy = (
        "policy: the four agencies (below)"
        if m.board is not None
        else f"regulator: {action if m.config.regulator.enabled else 'off'} "
        f"(pressure {m.regulator.pressure:.1f} / threshold {m.config.regulator.threshold:g})"
    )
    lines = [
        f"**Day {m.day}** · price **${price:,.0f}** · drawdown {drawdown:.0%}",
        policy,
        f"401(k) crypto allocation {m.config.savers.allocation:.1%} ({m.config.savers.channel}) · "
        f"savers: {int(m.savers.panicked.sum())} cohorts panicked · "
        f"institutions: {int(m.institutions.alive.sum())} of {m.institutions.n} operating",
    ]
    if len(m.asset_names) > 1:
        lines.append(
            "prices: "
            + " · ".join(
                f"{name} ${_money(p)}"
                for name, p in zip(m.asset_names, m.market.price, strict=True)
            )
        )
    x = m.exchanges
    if x.n:
        custody = "segregated" if m.config.exchanges.plan_custody_segregated else "at exchanges"
        lines.append(
            f"exchanges: {int(x.failed.sum())} of {x.n} failed, "
            f"${x.lost_usd.sum() / 1e9:,.1f}B lost (plan coins: {custody})"
        )
    sc = m.stablecoin
    if sc is not None:
        peg = "broken" if sc.broken else "held"
        lines.append(
            f"stablecoin {m.asset_names[m.stable_index]}: peg {peg} at ${sc.price:.4f} · "
            f"reserve ${sc.reserve / 1e9:,.1f}B = {sc.coverage:.1%} of "
            f"${sc.supply / 1e9:,.1f}B supply"
        )
    return "\n\n".join(lines)


def status_html(text: str) -> str:
    """The status text as HTML paragraphs (not Markdown: the page typesets $...$ as TeX)."""
    paragraphs = html.escape(text, quote=False).split("\n\n")
    body = "".join(
        f"<p>{re.sub(r'[*][*](.+?)[*][*]', r'<strong>\1</strong>', p)}</p>" for p in paragraphs
    )
    return f'<div style="font-size: 13px; line-height: 1.3">{body}</div>'


def _money(x: float) -> str:
    return f"{x:,.0f}" if x >= 1000 else f"{x:.4g}"


@solara.component
def StatusPanel(model: AppModel) -> None:
    update_counter.get()
    if model.config_error:
        solara.Error(
            f"Not applied: {model.config_error}. The last valid model keeps running.",
            icon=True,
        )
    solara.HTML(tag="div", unsafe_innerHTML=status_html(status_text(model)))
    solara.HTML(tag="div", unsafe_innerHTML=colour_key(), style="font-size: 12px")


# ---- the agencies and the public purse ------------------------------------------------------
def agencies_rows(m: Crypto401kModel) -> list[dict[str, str]]:
    """One row per agency: stage, pressure over threshold, rules in force (empty without
    the agencies)."""
    if m.board is None:
        return []
    stages = m.board.stages(m.day)
    return [
        {
            "agency": name,
            "stage": stages[name],
            "pressure": f"{a.pressure:,.0f} / {a.cfg.threshold:,.0f}"
            if a.cfg.acts
            else "does not act",
            "in force": ", ".join(a.in_force(m.day)) or "-",
        }
        for name, a in m.board.agencies.items()
    ]


def ledger_lines(m: Crypto401kModel) -> list[str]:
    """The government's ledger as of today, balances projected to retirement (USD at day 0)."""
    rate = m.config.fiscal.discount_rate
    s = m.fiscal_summary()
    lines = [
        f"**Public purse** (present value at {rate:.0%}, balances projected to retirement)",
        f"income tax on 401(k)s ${s['revenue_pv'] / 1e9:,.0f}B · "
        f"without the crypto option ${s['revenue_pv_without_crypto'] / 1e9:,.0f}B · "
        f"crypto's effect {s['crypto_effect_pv'] / 1e9:+,.2f} $B",
        f"tax forgone on traditional contributions so far ${s['tax_forgone_pv'] / 1e9:,.0f}B · "
        + (
            f"rescue on day {m.rescued_day}: ${m.rescue_usd / 1e9:,.1f}B spent "
            f"(net PV ${s['rescue_cost_pv'] / 1e9:,.1f}B)"
            if m.rescued_day is not None
            else "no rescue"
        ),
    ]
    return lines


def agencies_html(m: Crypto401kModel) -> str:
    """The agencies' table (or a note on the single regulator) and the ledger, as HTML."""
    rows = agencies_rows(m)
    if rows:
        head = "".join(f"<th style='text-align:left'>{k}</th>" for k in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r.values()) + "</tr>"
            for r in rows
        )
        offering = float(m.savers.offering.mean()) if m.savers.n else 0.0
        table = (
            f"<p><strong>Agencies</strong> · plans offering crypto {offering:.0%}</p>"
            f"<table style='border-spacing: 8px 0'><tr>{head}</tr>{body}</table>"
        )
    else:
        table = (
            "<p><strong>Agencies</strong>: the simple scenario has one regulator "
            "(market 'agencies' brings in the DOL, SEC, IRS and CFTC)</p>"
        )
    return table + status_html("\n\n".join(ledger_lines(m)))


@solara.component
def AgenciesPanel(model: AppModel) -> None:
    update_counter.get()
    solara.HTML(tag="div", unsafe_innerHTML=agencies_html(model), style="font-size: 13px")
