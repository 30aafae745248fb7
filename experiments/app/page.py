"""The browser app's page (Solara components; `app.py` serves `Page`).

Left: the run's buttons (Step, Play at a chosen speed, run N days, run to the end), its progress
and the finished notice; the preset and the parameters (each with its value and a typed entry,
changes pending until Reset); downloads of the time series and the scenario. Right: the status,
the market graph (click a node to see its agent), the agencies' panel and the time series.

Each browser session has its own `Session` (model, twin without crypto, play thread). The
play thread steps the model a batch at a time and bumps `frame`; every view draws from the
model under the session's lock, so a view never reads a half-written step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import solara
from crypto401k.experiments.app import viz
from crypto401k.experiments.app.controls import (
    CONTROLS,
    DEFAULT_PRESET,
    Control,
    changed,
    config_for,
    has_part,
    load_preset,
    presets,
    values_from_config,
)
from crypto401k.experiments.app.session import DEFAULT_SPEED, SPEEDS, Session, node_state
from crypto401k.model.config import Config, ConfigError

HERE = Path(__file__).parent


@solara.component_vue(str(HERE / "image.vue"))
def ClickImage(
    src: str, alt: str = "", width: int = 0, klass: str = "", event_click: Callable | None = None
) -> None:
    """An <img> whose clicks report their position (fractions of its width and height)."""


class AppState:
    """One browser session's run and its pictures (rebuilt by every applied Reset)."""

    def __init__(self, preset: str, values: dict[str, Any], cfg: Config, frame: Any) -> None:
        self.preset = preset
        self.values = dict(values)  # the controls' values the model was built from
        self.session = Session(cfg, on_frame=lambda: frame.set(frame.value + 1))
        self.network = viz.NetworkImage(self.session.model)
        self.series = viz.SeriesPlot(self.session.model)

    def _series(self, m: Any, asset: str) -> str:
        self.series.update(m, asset, self.session.assets_effect())
        return self.series.image()

    def pictures(self, asset: str, selected: int | None) -> dict[str, Any]:
        """Everything the main panel shows, drawn under the session's lock."""
        s = self.session
        with s.lock:
            m = s.model
            return {
                "day": s.day,
                "network": viz.jpeg_data_url(self.network.frame(m, selected)),
                "series": self._series(m, asset),
                "status": viz.status_html(viz.status_text(m)),
                "agencies": viz.agencies_html(m),
                "node": node_state(m, selected) if selected is not None else None,
            }


@solara.component
def Page() -> None:
    frame = solara.use_reactive(0)  # bumped after each batch the play thread runs
    preset = solara.use_reactive(DEFAULT_PRESET)  # the preset chosen (applied by Reset)
    values = solara.use_reactive(values_from_config(load_preset(DEFAULT_PRESET)))
    message = solara.use_reactive(None)  # why the last Reset was not applied
    entry_errors = solara.use_reactive({})  # control name -> message for a bad typed entry
    speed = solara.use_reactive(DEFAULT_SPEED)
    run_days = solara.use_reactive("100")
    selected = solara.use_reactive(None)  # the node clicked
    asset = solara.use_reactive("")

    def first_state() -> AppState:
        return AppState(preset.value, values.value, config_for(preset.value, values.value), frame)

    app = solara.use_reactive(solara.use_memo(first_state, []))  # once per browser session
    state: AppState = app.value
    solara.use_effect(lambda: state.session.stop, [state])  # stop the thread on leaving

    def reset() -> None:
        try:
            cfg = config_for(preset.value, values.value)
        except ConfigError as exc:
            message.set(str(exc))
            return
        state.session.stop()
        message.set(None)
        selected.set(None)
        app.set(AppState(preset.value, values.value, cfg, frame))

    def choose_preset(name: str) -> None:
        preset.set(name)
        values.set(values_from_config(load_preset(name)))
        entry_errors.set({})

    def restore_defaults() -> None:
        values.set(values_from_config(load_preset(preset.value)))
        entry_errors.set({})

    def set_value(name: str, value: Any) -> None:
        values.set({**values.value, name: value})
        entry_errors.set({k: v for k, v in entry_errors.value.items() if k != name})

    def set_entry_error(name: str, text: str) -> None:
        entry_errors.set({**entry_errors.value, name: text})

    solara.Title("crypto401k")
    solara.Style(CSS)
    with solara.Div(classes=["crypto401k-page"]):
        solara.HTML(
            tag="h2",
            unsafe_innerHTML="crypto401k: 401(k) money in a crypto market",
            classes=["crypto401k-title"],
        )
        with solara.Row(classes=["crypto401k-body"], style={"align-items": "flex-start"}):
            with solara.Column(classes=["crypto401k-side"]):
                RunCard(state, frame, speed, run_days)
                ScenarioCard(
                    state,
                    preset.value,
                    values.value,
                    message.value,
                    entry_errors.value,
                    choose_preset,
                    reset,
                    restore_defaults,
                    set_value,
                    set_entry_error,
                )
                DownloadCard(state)
            with solara.Column(classes=["crypto401k-main"]):
                MainPanel(state, frame, selected, asset)


@solara.component
def RunCard(state: AppState, frame: Any, speed: Any, run_days: Any) -> None:
    """Step, Play / Pause, run N days, run to the end; the progress and the finished notice."""
    _ = frame.value  # redrawn with every frame
    s = state.session
    playing, finished = s.playing, s.finished
    days_error = solara.use_reactive(None)

    def play_pause() -> None:
        if s.playing:
            s.stop()
        else:
            s.play(None, SPEEDS[speed.value])
        _bump()

    def run_n() -> None:
        try:
            n = int(str(run_days.value).replace(",", "").strip())
            if n < 1:
                raise ValueError
        except ValueError:
            days_error.set(f"run days = {run_days.value!r}: must be a whole number >= 1")
            return
        days_error.set(None)
        s.play(n, None)
        _bump()

    def step() -> None:
        s.step(1)
        s.notify()

    def to_end() -> None:
        s.play(None, None)
        _bump()

    bump = solara.use_reactive(0)

    def _bump() -> None:  # redraw the buttons' state now (the frame may come later)
        bump.set(bump.value + 1)

    with solara.Card("Run", classes=["crypto401k-run"]):
        with solara.Row(gap="6px", style={"flex-wrap": "wrap"}):
            solara.Button("Step", on_click=step, disabled=playing or finished, color="primary")
            solara.Button(
                "❚❚ Pause" if playing else "▶ Play",
                on_click=play_pause,
                disabled=finished and not playing,
                color="primary",
            )
            solara.Button("Run to end", on_click=to_end, disabled=playing or finished)
        with solara.Row(gap="6px", style={"align-items": "center"}):
            solara.InputText("days", value=run_days, classes=["crypto401k-run-days"])
            solara.Button("Run N days", on_click=run_n, disabled=playing or finished)
        if days_error.value:
            solara.Error(days_error.value)
        solara.Select(
            "play speed (fastest: a frame after each batch of days)",
            value=speed,
            values=list(SPEEDS),
            classes=["crypto401k-speed"],
        )
        target = s.target
        if playing and target is not None:
            done = (s.day - s.started_at) / max(target - s.started_at, 1)
            solara.ProgressLinear(value=100 * done, color="primary")
            solara.Text(f"running: day {s.day} of {target}")
        if finished:
            solara.Success(
                f"Finished: day {s.day} is the run's last day. Press Reset to run it again, or"
                " download the time series below.",
                classes=["crypto401k-finished"],
            )


@solara.component
def ScenarioCard(
    state: AppState,
    preset: str,
    values: dict[str, Any],
    message: str | None,
    entry_errors: dict[str, str],
    choose_preset: Callable,
    reset: Callable,
    restore_defaults: Callable,
    set_value: Callable,
    set_entry_error: Callable,
) -> None:
    """The preset, the parameters (pending until Reset), Reset and restore defaults."""
    base = load_preset(preset)
    pending = changed(values, state.values, base)
    if preset != state.preset:
        pending.insert(0, f"preset: {preset} (was {state.preset})")
    with solara.Card("Scenario", classes=["crypto401k-scenario"]):
        solara.Select(
            "preset",
            value=preset,
            values=list(presets()),
            on_value=choose_preset,
            classes=["crypto401k-preset"],
        )
        with solara.Row(gap="6px"):
            solara.Button(
                "Reset (apply)" if pending else "Reset",
                on_click=reset,
                color="warning" if pending else "primary",
            )
            solara.Button("Restore defaults", on_click=restore_defaults)
        with solara.Div(
            classes=["crypto401k-messages"]
        ):  # always there: the controls keep their place
            if message:
                solara.Error(
                    f"Not applied: {message}. The running model is unchanged.",
                    classes=["crypto401k-not-applied"],
                )
            if pending:
                solara.Warning(
                    "Changes pending - press Reset to apply: " + "; ".join(pending),
                    classes=["crypto401k-pending"],
                )
        for c in CONTROLS:
            if has_part(base, c.needs):
                ControlInput(
                    c,
                    values[c.name],
                    values.get("steps", 3650),
                    values[c.name] != state.values.get(c.name),
                    entry_errors.get(c.name),
                    set_value,
                    set_entry_error,
                )


@solara.component
def ControlInput(
    c: Control,
    value: Any,
    run_days: int,
    pending: bool,
    error: str | None,
    set_value: Callable,
    set_entry_error: Callable,
) -> None:
    """One parameter: its label and value (marked when pending), a slider or a selector, and a
    typed entry for numbers."""
    with solara.Div(classes=["crypto401k-control", f"control-{c.name}"]):
        mark = " <span class='crypto401k-mark'>(pending)</span>" if pending else ""
        solara.HTML(
            tag="div",
            unsafe_innerHTML=f"{c.label}: <b class='crypto401k-value'>{c.show(value)}</b>{mark}",
            classes=["crypto401k-label"],
        )
        if c.kind == "bool":
            solara.Checkbox(label="on", value=bool(value), on_value=lambda v: set_value(c.name, v))
        elif c.kind == "select":
            solara.v.Select(
                items=list(c.options),
                v_model=value,
                on_v_model=lambda v: set_value(c.name, v),
                dense=True,
                hide_details=True,
            )
        else:
            # the slider spans the control's range, widened to hold a typed value beyond it
            # (a slider clamps a value outside its range, and would send the clamped one back)
            hi = max(int(run_days), 1) if c.kind == "day" else c.hi
            hi, lo = max(hi, float(value)), min(c.lo, float(value))
            with solara.Row(gap="8px", style={"align-items": "center"}):
                if (hi - lo) / c.step <= 10_000:  # a seed is typed, not slid
                    solara.v.Slider(
                        v_model=value,
                        min=lo,
                        max=hi,
                        step=c.step,
                        on_v_model=lambda v: set_value(c.name, _number(c, v)),
                        hide_details=True,
                        dense=True,
                        class_="crypto401k-slider",
                    )

                def typed(text: str) -> None:
                    try:
                        set_value(c.name, c.parse(text))
                    except ConfigError as exc:
                        set_entry_error(c.name, str(exc))

                solara.InputText(
                    "",
                    value=c.entry(value),
                    on_value=typed,
                    continuous_update=False,
                    classes=["crypto401k-entry"],
                )
                if c.unit:
                    solara.Text(c.unit if c.unit != "bp of plan assets" else "bp")
        if error:
            solara.Error(error, classes=["crypto401k-entry-error"])


def _number(c: Control, v: Any) -> Any:
    return round(float(v)) if c.kind in ("int", "day") else round(float(v), 6)


@solara.component
def DownloadCard(state: AppState) -> None:
    """The time series and the scenario on screen, as `crypto401k run` writes them."""
    s = state.session
    with solara.Card("Download", classes=["crypto401k-download"]):
        solara.FileDownload(
            s.timeseries_csv, filename="timeseries.csv", label="time series (timeseries.csv)"
        )
        solara.FileDownload(s.config_toml, filename="config.toml", label="scenario (config.toml)")
        solara.Text(
            "crypto401k run --config config.toml --steps DAY reproduces the time series shown "
            "at DAY (the file's first lines name it)."
        )


@solara.component
def MainPanel(state: AppState, frame: Any, selected: Any, asset: Any) -> None:
    """The status, the network with the clicked node's state, the agencies, the time series."""
    frame = frame.value  # redrawn with every frame
    m = state.session.model
    chosen = asset.value if asset.value in m.asset_names else m.asset_names[0]
    shown = solara.use_memo(
        lambda: state.pictures(chosen, selected.value), [state, frame, chosen, selected.value]
    )

    def click(data: dict[str, float]) -> None:
        selected.set(state.network.node_at(float(data["x"]), float(data["y"])))

    with solara.Div(classes=["crypto401k-status"]):
        solara.HTML(tag="div", unsafe_innerHTML=shown["status"])
    with solara.Row(style={"flex-wrap": "wrap", "align-items": "flex-start"}, gap="16px"):
        with solara.Div(classes=["crypto401k-network"]):
            solara.HTML(
                tag="div",
                unsafe_innerHTML="<b>Market graph</b> (click a node to see its agent)",
            )
            ClickImage(
                src=shown["network"],
                alt="market graph",
                width=viz.NETWORK_PX,
                klass="crypto401k-network-image",
                event_click=click,
            )
        with solara.Column(classes=["crypto401k-side-info"], style={"max-width": "460px"}):
            solara.HTML(
                tag="div",
                unsafe_innerHTML=viz.colour_key(),
                style="font-size: 13px",
                classes=["crypto401k-key"],
            )
            node = shown["node"]
            with solara.Card("Selected agent", classes=["crypto401k-node"]):
                if node is None:
                    solara.Text("Click a node in the market graph.")
                else:
                    rows = "".join(
                        f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v in node.items()
                    )
                    solara.HTML(tag="table", unsafe_innerHTML=rows, style="font-size: 13px")
            with solara.Div(classes=["crypto401k-agencies"]):
                solara.HTML(tag="div", unsafe_innerHTML=shown["agencies"], style="font-size: 13px")
    if len(m.asset_names) > 1:
        with solara.Row(style={"align-items": "center"}):
            solara.Text("price panels:")
            solara.ToggleButtonsSingle(value=chosen, values=m.asset_names, on_value=asset.set)
    ClickImage(
        src=shown["series"],
        alt="time series",
        width=int(viz.SERIES_INCHES[0] * viz.SERIES_DPI),
        klass="crypto401k-series-image",
    )


CSS = """
.crypto401k-page { padding: 8px 16px; }
.crypto401k-title { margin: 4px 0 8px 0; font-size: 20px; }
.crypto401k-side { width: 360px; flex: none; }
.crypto401k-main { flex: 1 1 auto; min-width: 0; }
.crypto401k-control { margin: 4px 0 10px 0; }
.crypto401k-label { font-size: 13px; }
.crypto401k-mark { color: #b26a00; }
.crypto401k-slider { flex: 1 1 auto; min-width: 150px; }
.crypto401k-entry { width: 84px; flex: none; }
.crypto401k-entry .v-input { margin-top: 0; padding-top: 0; }
.crypto401k-run-days { width: 90px; flex: none; }
"""
