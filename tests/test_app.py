"""The browser app: its parts without a browser, then the README's command served and driven in
a real chromium with no route to the internet.

The browser test needs Debian's `chromium` (`apt-get install chromium`; `.ci/run` installs it)
and the front-end files that `.ci/solara-assets` puts in Solara's cache. It saves a screenshot
of each state it checks in `test-artifacts/app/`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import solara
from crypto401k.experiments import viz
from crypto401k.experiments.app_controls import (
    BY_NAME,
    CONTROLS,
    changed,
    config_for,
    has_part,
    load_preset,
    presets,
    values_from_config,
)
from crypto401k.experiments.app_session import Session, node_state
from crypto401k.experiments.cli import main as cli_main
from crypto401k.model.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "app"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

SMALL = {"n_savers": 200, "n_traders": 100, "n_funds": 4}


def small(preset: str = "four_assets", **values) -> dict:
    """The preset's control values, made small (a fraction of a second per 10 days)."""
    return {**values_from_config(load_preset(preset)), **SMALL, **values}


# ---- controls -------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", list(presets()))
def test_each_preset_sets_the_controls_to_its_own_scenario(preset):
    # the repository's example scenarios are presets too, beside the built-in ones
    assert "scenarios/crash_with_401k.toml" in presets() and "btc_only" in presets()
    cfg = load_preset(preset)
    assert config_for(preset, values_from_config(cfg)) == cfg


def test_a_bad_value_is_one_message_naming_the_field_and_what_is_allowed():
    with pytest.raises(ConfigError, match=r"institutions\.leverage_max = 3\.0.*\(4\.0\)"):
        config_for("four_assets", small(leverage=4.0))
    with pytest.raises(ConfigError, match=r"savers\.allocation = 1\.5: must be less"):
        config_for("four_assets", small(allocation=1.5))
    with pytest.raises(ConfigError, match=r"run\.seed = -1"):
        config_for("four_assets", small(seed=-1))
    # a typed entry that is not a number names the control, its field and what it takes
    with pytest.raises(ConfigError, match=r"seed \(run\.seed\) = '4x2': must be a whole number"):
        BY_NAME["seed"].parse("4x2")
    with pytest.raises(ConfigError, match=r"allocation \(savers.allocation\).*in percent"):
        BY_NAME["allocation"].parse("three")
    # percent in, fraction kept; shown with its unit
    assert BY_NAME["allocation"].parse("3.5") == pytest.approx(0.035)
    assert BY_NAME["allocation"].show(0.035) == "3.5%"
    assert BY_NAME["shock_day"].show(0) == "never" and BY_NAME["lag_days"].show(30) == "30 days"


def test_controls_show_only_where_they_act_and_pending_changes_are_listed():
    shown = {p: {c.name for c in CONTROLS if has_part(load_preset(p), c.needs)} for p in presets()}
    four = {"custody", "exchange_fail_day", "reserve_risky", "reserve_shock_day", "reserve_loss"}
    assert four <= shown["four_assets"] and not four & shown["btc_only"]
    assert "threshold" in shown["btc_only"] and "threshold" not in shown["agencies"]
    cfg = load_preset("four_assets")
    applied = values_from_config(cfg)
    assert changed(applied, applied, cfg) == []
    assert changed({**applied, "allocation": 0.05}, applied, cfg) == [
        "401(k) crypto allocation: 5% (was 1%)"
    ]


# ---- the run --------------------------------------------------------------------------------
def test_a_run_stops_at_its_last_day_whatever_the_speed():
    s = Session(config_for("btc_only", small("btc_only", steps=25)))
    s.play(7, None)  # run 7 days, as fast as it goes
    s.wait()
    assert s.day == 7 and not s.playing
    s.play(None, 1000.0)  # play to the end at a set speed
    s.wait()
    assert s.day == 25 and s.finished and not s.playing
    assert s.step(5) == 0 and s.day == 25  # nothing past the end
    s.play(None, None)
    s.wait()
    assert s.day == 25
    assert len(s.timeseries()) == 26  # day 0 (the initial state) to day 25


def test_views_read_whole_days_while_the_play_thread_runs():
    # the page used to die reading the data collector in the middle of a step
    s = Session(config_for("four_assets", small(steps=400)))
    net, series = viz.NetworkImage(s.model), viz.SeriesPlot(s.model)
    s.play(None, None)
    seen = set()
    try:
        while s.playing:
            with s.lock:
                ts = s.timeseries()  # raised "Length of values" mid-step before
                assert len(ts) == s.day + 1
                assert len(s.assets_effect()) == s.day + 1
                series.update(s.model, "ETH", s.assets_effect())
                series.image()
                viz.jpeg_data_url(net.frame(s.model))
                assert viz.status_text(s.model).startswith(f"**Day {s.day}** of 400")
                seen.add(s.day)
    finally:
        s.stop()
        s.wait()
    assert len(seen) > 1  # the views really ran between batches


def test_the_day_counts_days_simulated_and_the_time_axis_starts_at_zero():
    s = Session(config_for("btc_only", small("btc_only")))
    assert viz.status_text(s.model).startswith("**Day 0** of 3650")
    s.step(1)
    assert viz.status_text(s.model).startswith("**Day 1** of 3650")
    s.step(40)
    plot = viz.SeriesPlot(s.model)
    plot.update(s.model, None, s.assets_effect())
    assert plot.price.get_xdata()[0] == 0 and plot.price.get_xdata()[-1] == 41
    vol = plot.vol.get_ydata()
    assert np.isnan(vol[plot.vol.get_xdata() < 30]).all() and np.isfinite(vol[-1])


def test_the_series_panels_have_titles_units_and_legends():
    s = Session(config_for("four_assets", small()))
    s.step(3)
    plot = viz.SeriesPlot(s.model)
    plot.update(s.model, "USDC", s.assets_effect())
    for ax in plot.axes:
        assert ax.get_title() and ax.get_ylabel() and ax.get_legend().get_texts()
    assert plot.axes[0].get_title() == "USDC: price and the issuer's reserve per coin"
    assert plot.fundamental.get_label() == "reserve per coin"
    assert plot.axes[4].get_xlabel() == "day" and plot.axes[5].get_xlabel() == "day"
    assert plot.image().startswith("data:image/jpeg;base64,")


def test_the_savers_panel_compares_with_the_same_run_without_crypto():
    s = Session(config_for("four_assets", small(allocation=0.05)))
    s.step(30)
    assert s.twin.config.savers.allocation == 0.0 and s.model.config.savers.allocation == 0.05
    assert s.twin.datacollector.model_vars["saver_crypto_wealth"][-1] == 0.0
    # the same seed: the twin's fundamental path is the model's (common random numbers)
    assert s.twin.datacollector.model_vars["fundamental"] == (
        s.model.datacollector.model_vars["fundamental"]
    )
    effect = s.assets_effect()
    assert len(effect) == 31 and effect[0] == 0.0 and np.abs(effect[1:]).max() > 0


def test_the_download_reproduces_with_the_command_line(tmp_path):
    s = Session(config_for("four_assets", small(allocation=0.03, seed=7)))
    s.step(12)
    (tmp_path / "config.toml").write_bytes(s.config_toml())
    out = tmp_path / "run"
    argv = ["run", "--config", str(tmp_path / "config.toml"), "--steps", "12", "--out", str(out)]
    assert cli_main([*argv, "--quiet"]) == 0
    assert (out / "timeseries.csv").read_bytes() == s.timeseries_csv()
    assert b"shown at day 12 of 3650" in s.config_toml()


def test_a_clicked_node_names_its_agent_and_state():
    s = Session(config_for("four_assets", small()))
    m = s.model
    net = viz.NetworkImage(m)
    first = m.first_node
    expect = {
        first["savers"]: ("saver cohort", "age", "crypto share", "panic"),
        first["traders"]: ("retail trader", "type", "leverage"),
        first["institutions"]: ("institution", "leverage", "largest lender"),
        first["exchanges"]: ("exchange", "market share", "state"),
    }
    for node, (agent, *keys) in expect.items():
        state = node_state(m, node)
        assert state["agent"].startswith(agent) and all(k in state for k in keys)
        # a click on the node's pixel finds it
        x, y = net.xy[node] / viz.NETWORK_PX
        assert net.node_at(x, y) is not None
        assert node_state(m, net.node_at(x, y))["agent"].split()[0] == agent.split()[0]
    assert net.node_at(0.0, 0.0) is None  # a corner: no node
    with pytest.raises(ValueError, match="node = -1"):
        node_state(m, -1)


def test_the_page_renders_without_a_browser():
    import app

    box, _ = solara.render(app.Page(), handle_error=False)
    tree = repr(box)
    assert "<strong>Day 0</strong> of 3650" in tree and "Selected agent" in tree
    assert "401(k) crypto allocation: <b class='crypto401k-value'>1%</b>" in tree
