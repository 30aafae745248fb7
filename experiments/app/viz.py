"""The browser app's pictures and texts: the market graph, the time series, the status and
the agencies' panel, each drawn from a model (no Solara here; `page.py` lays them out).

Everything is drawn on the server into PNG images, so the page needs no JavaScript beyond
Solara's own front end (which `.ci/solara-assets` installs for offline use). The network's
layout is computed once per model from its structure (employer blocks on a ring, traders
inside, institutions at the centre), not by a force simulation, and its edges are drawn once:
a frame only paints today's node colours onto that image with numpy (a few milliseconds).
"""

from __future__ import annotations

import base64
import html
import io
import re
from typing import Any

import numpy as np
from crypto401k.model.model import Crypto401kModel
from crypto401k.model.policy import RUNG_NAMES
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba_array
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from PIL import Image


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
NETWORK_PX = 560  # the network image's side, pixels (shown at this size, never scaled up)


def _pixels(pos: np.ndarray) -> np.ndarray:
    """Layout coordinates -> (column, row) pixel coordinates of the network image."""
    scale = NETWORK_PX / (2 * LIMIT)
    return np.column_stack([(pos[:, 0] + LIMIT) * scale, (LIMIT - pos[:, 1]) * scale])


def _stamp(radius: float, square: bool = False) -> np.ndarray:
    """Pixel offsets (d_row, d_col) of a disc (or square) of `radius` pixels."""
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    keep = np.ones_like(dx, bool) if square else dx**2 + dy**2 <= radius**2 + 0.5
    return np.column_stack([dy[keep], dx[keep]])


class NetworkImage:
    """The market graph of one model as an RGB image: edges drawn once, nodes painted per
    frame in today's colours. Savers and traders are 1.5-pixel discs, institutions 4-pixel
    discs, exchanges squares sized by market share (a failed one twice as large)."""

    def __init__(self, m: Crypto401kModel) -> None:
        self.layout = structured_layout(m)
        self.xy = _pixels(self.layout)
        self.edges = edge_image(m, self.layout)[..., :3].copy()
        first = m.first_node
        radius = np.full(m.n_nodes, 1.5)
        radius[first["institutions"] : first["exchanges"]] = 4.0
        self.radius = radius
        self.agents = first["exchanges"]
        self.share = np.asarray(m.exchanges.share, dtype=float) if m.exchanges.n else np.zeros(0)
        # every node's pixels, as flat indices into the image, and the node that owns each
        flat, owner = [], []
        for r in np.unique(radius[: self.agents]):
            nodes = np.flatnonzero(radius[: self.agents] == r)
            st = _stamp(r)
            rows = np.rint(self.xy[nodes, 1])[:, None] + st[None, :, 0]
            cols = np.rint(self.xy[nodes, 0])[:, None] + st[None, :, 1]
            ok = (rows >= 0) & (rows < NETWORK_PX) & (cols >= 0) & (cols < NETWORK_PX)
            flat.append((rows * NETWORK_PX + cols)[ok].astype(np.int64))
            owner.append(np.broadcast_to(nodes[:, None], rows.shape)[ok])
        self.flat = np.concatenate(flat)
        self.owner = np.concatenate(owner)

    def frame(self, m: Crypto401kModel, selected: int | None = None) -> np.ndarray:
        """Today's image, shape (NETWORK_PX, NETWORK_PX, 3), uint8; a black ring marks the
        `selected` node."""
        colours = (to_rgba_array(node_colours(m))[:, :3] * 255).astype(np.uint8)
        img = self.edges.copy()
        img.reshape(-1, 3)[self.flat] = colours[self.owner]
        for k in range(m.exchanges.n):  # exchanges on top, as squares
            half = 3.0 + 14.0 * np.sqrt(self.share[k]) * (2.0 if m.exchanges.failed[k] else 1.0)
            c, r = np.rint(self.xy[self.agents + k]).astype(int)
            h = int(half)
            img[max(r - h, 0) : r + h + 1, max(c - h, 0) : c + h + 1] = colours[self.agents + k]
        if selected is not None:
            ring = _stamp(9.0)
            ring = ring[np.hypot(ring[:, 0], ring[:, 1]) > 6.5]
            c, r = np.rint(self.xy[selected]).astype(int)
            rows, cols = r + ring[:, 0], c + ring[:, 1]
            ok = (rows >= 0) & (rows < NETWORK_PX) & (cols >= 0) & (cols < NETWORK_PX)
            img[rows[ok], cols[ok]] = 0
        return img

    def node_at(self, x: float, y: float, tolerance_px: float = 6.0) -> int | None:
        """The node nearest to a click at (x, y), as fractions of the image's width and
        height from its top left corner; None if none is within `tolerance_px` pixels."""
        d = np.hypot(self.xy[:, 0] - x * NETWORK_PX, self.xy[:, 1] - y * NETWORK_PX)
        d[self.agents :] -= 3.0 + 14.0 * np.sqrt(self.share)  # an exchange's square is large
        d[self.radius > 2] -= 3.0
        node = int(np.argmin(d))
        return node if d[node] <= tolerance_px else None


def png_data_url(img: np.ndarray) -> str:
    """An RGB image as a PNG data URL (fast compression: the page is on this machine)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def jpeg_data_url(img: np.ndarray) -> str:
    """An RGB image as a JPEG data URL: high quality and no chroma subsampling keep lines and
    text crisp, and it encodes about ten times faster than PNG (what keeps a frame short)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=92, subsampling=0)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def edge_image(m: Crypto401kModel, pos: np.ndarray) -> np.ndarray:
    """The edges drawn once into an RGBA image (they do not change during a run), so that a
    frame only paints the nodes on top of it."""
    fig = Figure(figsize=(NETWORK_PX / 100, NETWORK_PX / 100), dpi=100)
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


def colour_key() -> str:
    """The network's colour key as HTML (node states, edge layers)."""
    items = [f'<span style="color:{c}">&#9679;</span> {label}' for label, c in COLOURS.items()]
    edges = {"social": "social edge", "exposure": "exposure edge (loan)", "custody": "custody"}
    items += [
        f'<span style="color:{EDGE_COLOURS[k]}">&#9472;</span> {label}'
        for k, label in edges.items()
    ]
    return " &nbsp; ".join(items)


# ---- the time series ------------------------------------------------------------------------
SERIES_INCHES, SERIES_DPI = (9.6, 7.4), 100  # shown at its own size: 960 x 740 pixels
MAX_POINTS = 500  # a line never needs more points than the panel has pixels
VOL_WINDOW = 30  # days: the volatility is shown once its window is full
X_STEPS = (30, 60, 100, 200, 365, 730, 1095, 1825, 2555, 3650, 7300)  # x-axis ends, days
FLOW_COLOURS = {"savers": "#4c72b0", "traders": "#55a868", "institutions": "#8172b2"}


class SeriesPlot:
    """The time-series figure of one model, built once: six panels with titles, units and
    legends. A frame only sets the lines' data and rescales (rebuilding the figure every
    step would cost more than the step itself)."""

    def __init__(self, m: Crypto401kModel) -> None:
        fig = self.figure = Figure(figsize=SERIES_INCHES, dpi=SERIES_DPI)
        fig.subplots_adjust(left=0.08, right=0.93, top=0.95, bottom=0.07, hspace=0.45, wspace=0.3)
        ax = self.axes = fig.subplots(3, 2, sharex=True).ravel()
        small = {"fontsize": 8}
        self.price = ax[0].plot([], [], lw=1.0, label="price")[0]
        self.fundamental = ax[0].plot([], [], lw=1.0, ls="--", label="fundamental value")[0]
        ax[0].set_ylabel("USD/coin")
        self.vol = ax[1].plot([], [], lw=1.0, color="#c44e52", label="30-day volatility")[0]
        ax[1].set_ylabel("annualized, 1/sqrt(year)")
        self.wealth = ax[2].plot([], [], lw=1.0, label="savers' crypto")[0]
        ax[2].set_title("Savers' crypto holdings", fontsize=10)
        ax[2].set_ylabel("USD billion")
        self.loss = ax[3].plot(
            [], [], lw=1.0, color="#c44e52", label="crypto losses (open + realised)"
        )[0]
        self.effect = ax[3].plot(
            [], [], lw=1.0, color="#4c72b0", label="plan assets vs same run without crypto"
        )[0]
        ax[3].axhline(0.0, color="0.6", lw=0.6)
        ax[3].set_title("Savers: losses and net effect, % of 401(k) assets", fontsize=10)
        ax[3].set_ylabel("% of plan assets")
        self.pressure = ax[4].plot([], [], lw=1.0, label="pressure")[0]
        agencies = m.board is not None
        threshold = (
            m.board.agencies["DOL"].cfg.threshold if agencies else m.config.regulator.threshold
        )
        ax[4].axhline(threshold, color="0.4", ls=":", lw=1, label=f"threshold ({threshold:g})")
        ax[4].set_title(
            "DOL: pressure and rules in force" if agencies else "Regulator: pressure and rung",
            fontsize=10,
        )
        ax[4].set_ylabel("pressure, bp of plan assets")
        self.twin = ax[4].twinx()
        (self.rung,) = self.twin.step([], [], where="post", color="#c44e52", lw=1)
        self.twin.set_ylim(-0.2, 5.2)
        self.twin.set_ylabel("rules in force" if agencies else "policy rung", color="#c44e52")
        self.twin.tick_params(labelsize=8)
        self.flows = [
            ax[5].plot([], [], lw=0.7, color=c, label=k)[0] for k, c in FLOW_COLOURS.items()
        ]
        ax[5].set_title("Net buying (+) or selling (-) by agent type", fontsize=10)
        ax[5].set_ylabel("USD billion/day")
        for a in ax:
            a.tick_params(labelsize=8, labelbottom=True)
            a.yaxis.label.set_size(8)
            a.legend(loc="upper right", framealpha=0.9, **small).set_animated(True)
        for a in ax[4:]:
            a.set_xlabel("day", fontsize=8)
        self.data_lines = [self.price, self.fundamental, self.vol, self.wealth, self.loss]
        self.data_lines += [self.effect, self.pressure, self.rung, *self.flows]
        for line in self.data_lines:  # drawn each frame over the saved background
            line.set_animated(True)
        self.asset: str | None = "?"
        self.canvas = FigureCanvasAgg(fig)
        self._limits: dict = {}
        self._background = None
        self._legends: list = []
        self._dirty: set[int] = set()  # panels whose y axis changed since the last image
        self._boxes: list[Bbox] = []  # each panel's extent when last drawn
        self._floor = {4: (0.0, threshold)}  # the threshold line stays in view

    def update(
        self, m: Crypto401kModel, asset: str | None = None, effect: np.ndarray | None = None
    ) -> Figure:
        """Bring the lines up to date: price panels for `asset` (the first if None), and
        `effect`, the savers' plan assets against the run without crypto (fraction per day).
        Axis limits only grow (x in steps, y with a margin), so most frames redraw only the
        lines (`png`)."""
        df = m.datacollector.model_vars
        n = min(len(v) for v in df.values())  # rows every column has (read under the lock)
        keep = np.unique(np.r_[np.arange(0, n, max(1, n // MAX_POINTS)), n - 1])
        day = keep.astype(float)

        def col(name: str, scale: float = 1.0) -> np.ndarray:
            return np.asarray(df[name][:n], dtype=float)[keep] / scale

        cols = series_columns(m, asset)
        name = asset if asset is not None and len(m.asset_names) > 1 else m.asset_names[0]
        stable = cols[1] == "stable_coverage"
        if name != self.asset:
            self.asset = name
            self.axes[0].set_title(
                f"{name}: price and the issuer's reserve per coin"
                if stable
                else f"{name}: price and fundamental value",
                fontsize=10,
            )
            self.axes[1].set_title(f"{name}: 30-day realized volatility", fontsize=10)
            self.fundamental.set_label("reserve per coin" if stable else "fundamental value")
            self.axes[0].legend(loc="upper right", framealpha=0.9, fontsize=8).set_animated(True)
            self._limits.clear()
            self._background = None
        self.price.set_data(day, col(cols[0]))
        self.fundamental.set_data(day, col(cols[1]))
        vol = col(cols[2])
        vol[day < VOL_WINDOW] = np.nan  # the window is not yet full
        self.vol.set_data(day, vol)
        self.wealth.set_data(day, col("saver_crypto_wealth", 1e9))
        self.loss.set_data(day, col("saver_loss_share", 0.01))
        if effect is not None:
            e = np.asarray(effect[:n], dtype=float)
            k = keep[keep < len(e)]
            self.effect.set_data(k.astype(float), 100 * e[k])
        self.pressure.set_data(day, col("regulator_pressure"))
        self.rung.set_data(day, col("policy_level"))
        for line, k in zip(self.flows, FLOW_COLOURS, strict=True):
            line.set_data(day, col(f"flow_{k}", 1e9))
        self._grow_limits(n - 1, m.config.run.steps)
        return self.figure

    def _grow_limits(self, last_day: int, run_days: int) -> None:
        """Fit the axes to the data: x to the next of X_STEPS (or the run's length), y to a
        margin of a quarter of the data's range either side, kept while the data stay inside
        and fill a fifth of it (so a new high seldom moves it). Any change forces a full
        redraw."""
        x_max = next((x for x in X_STEPS if x >= max(last_day, 1)), run_days)
        x_max = min(x_max, max(run_days, 1))
        if self._limits.get("x") != x_max:
            self._limits["x"] = x_max
            self.axes[0].set_xlim(0, x_max)
            self._background = None
        for i, ax in enumerate(self.axes):
            ys = [line.get_ydata() for line in ax.get_lines() if line.get_animated()]
            ys += [np.asarray(self._floor.get(i, ()), dtype=float)]
            data = np.concatenate([np.asarray(y, dtype=float) for y in ys])
            data = data[np.isfinite(data)]
            if not len(data):
                continue
            lo, hi = float(data.min()), float(data.max())
            old = self._limits.get(i)
            # keep the limits while they hold the data and the data fill a fifth of them
            inside = old is not None and old[0] <= lo and hi <= old[1]
            if inside and (hi - lo >= 0.2 * (old[1] - old[0]) or hi == lo):
                continue
            if hi == lo:  # a flat line: a unit either side (or a tenth of its level)
                pad = abs(hi) * 0.1 or 1.0
                new = (lo - pad, hi + pad)
            else:
                new = (lo - 0.25 * (hi - lo), hi + 0.25 * (hi - lo))
            self._limits[i] = new
            ax.set_ylim(*new)
            self._dirty.add(i)  # only this panel is redrawn

    def _panel_box(self, i: int, renderer: Any) -> Bbox:
        """Panel i's extent with its labels (and the policy axis beside panel 4), pixels."""
        parts = [self.axes[i], self.twin] if i == 4 else [self.axes[i]]
        return Bbox.union([a.get_tightbbox(renderer) for a in parts])

    def _legend_pixels(self, ax: Any) -> Any:
        return self.canvas.copy_from_bbox(ax.get_legend().get_window_extent().expanded(1.02, 1.05))

    def image(self) -> str:
        """The figure as a JPEG data URL. Most frames draw only the lines over a saved
        background; a panel whose y axis changed is redrawn alone, and everything only when
        the x axis (or the asset) changed."""
        canvas = self.canvas
        if self._background is None:
            canvas.draw()  # everything but the (animated) lines and legends
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            for ax in self.axes:  # then the legends, kept as pixels to lay over the lines
                ax.draw_artist(ax.get_legend())
            self._legends = [self._legend_pixels(ax) for ax in self.axes]
            renderer = canvas.get_renderer()
            self._boxes = [self._panel_box(i, renderer) for i in range(len(self.axes))]
        elif self._dirty:  # redraw only the panels whose y axis changed (a sixth each)
            renderer = canvas.get_renderer()
            canvas.restore_region(self._background)
            pixels = np.asarray(canvas.buffer_rgba())
            height = pixels.shape[0]
            for i in sorted(self._dirty):
                parts = [self.axes[i], self.twin] if i == 4 else [self.axes[i]]
                new = self._panel_box(i, renderer)  # where it will be; blank where it was too
                box, self._boxes[i] = Bbox.union([self._boxes[i], new]), new
                x0, x1 = int(box.x0) - 1, int(np.ceil(box.x1)) + 1
                y0, y1 = height - int(np.ceil(box.y1)) - 1, height - int(box.y0) + 1
                pixels[max(y0, 0) : y1, max(x0, 0) : x1] = 255  # blank the panel, then draw it
                for a in parts:
                    a.draw(renderer)
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            for i in sorted(self._dirty):
                self.axes[i].draw_artist(self.axes[i].get_legend())
                self._legends[i] = self._legend_pixels(self.axes[i])
        self._dirty.clear()
        canvas.restore_region(self._background)
        for line in self.data_lines:
            line.axes.draw_artist(line)
        # the legends stay readable over the lines; they sit at the upper right, where the
        # x axis (widened in steps ahead of the data) is most often still empty
        for region in self._legends:
            canvas.restore_region(region)
        return jpeg_data_url(np.asarray(canvas.buffer_rgba())[..., :3])


def series_columns(m: Crypto401kModel, asset: str | None = None) -> list[str]:
    """The time series' columns behind the price panels (price, fundamental, volatility) for
    `asset`: with a stablecoin, its peg price and its reserve per coin instead of a
    fundamental."""
    columns = ["price", "fundamental", "volatility_30d"]
    if asset is None or len(m.asset_names) < 2:
        return columns
    columns = [f"{col}_{asset}" for col in columns]
    if m.stable_index is not None and asset == m.asset_names[m.stable_index]:
        columns[1] = "stable_coverage"
    return columns


# ---- the text panel -----------------------------------------------------------------------
def status_text(m: Crypto401kModel) -> str:
    """The day (days simulated; 0 = the initial state), prices, policy and savers, as text
    with **bold** marks and blank lines between paragraphs."""
    prices = np.asarray(m.datacollector.model_vars["price"], dtype=float)
    price = float(prices[-1])
    drawdown = price / float(prices.max()) - 1.0
    name = m.asset_names[0]
    lines = [
        f"**Day {m.steps}** of {m.config.run.steps} · {name} price **${price:,.0f}** · "
        f"drawdown from peak {drawdown:.0%}"
    ]
    if m.board is not None:
        lines.append("policy: the four agencies (below)")
    elif m.config.regulator.enabled:
        lines.append(
            f"regulator: {RUNG_NAMES[m.regulator.level]} (pressure {m.regulator.pressure:.1f}"
            f" / threshold {m.config.regulator.threshold:g})"
        )
    else:
        lines.append("regulator: off")
    s = m.savers
    offering = float(s.offering.mean()) if s.n else 0.0
    allocation = (
        f"401(k) crypto allocation {m.config.savers.allocation:.1%} ({m.config.savers.channel})"
    )
    if offering < 1.0:  # the executive-order scenario: plans wait for the DOL's safe harbour
        allocation += f", applied only in plans that offer crypto: {offering:.0%} do so far" + (
            " (they wait for the DOL's safe harbour rule)" if m.board is not None else ""
        )
    lines.append(
        f"{allocation} · savers: {int(s.panicked.sum())} of {s.n} cohorts panicked · "
        f"institutions: {int(m.institutions.alive.sum())} of {m.institutions.n} operating"
    )
    if len(m.asset_names) > 1:
        lines.append(
            "prices: "
            + " · ".join(
                f"{n} ${_money(p)}" for n, p in zip(m.asset_names, m.market.price, strict=True)
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
    bold = [re.sub(r"[*][*](.+?)[*][*]", r"<strong>\1</strong>", p) for p in paragraphs]
    body = "".join(f"<p style='margin: 0 0 6px 0'>{p}</p>" for p in bold)
    return f'<div style="font-size: 14px; line-height: 1.35">{body}</div>'


def _money(x: float) -> str:
    return f"{x:,.0f}" if x >= 1000 else f"{x:.4g}"


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
