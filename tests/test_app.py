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
from crypto401k.experiments.app import viz
from crypto401k.experiments.app.controls import (
    BY_NAME,
    CONTROLS,
    changed,
    config_for,
    has_part,
    load_preset,
    presets,
    values_from_config,
)
from crypto401k.experiments.app.session import Session, node_state
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


@pytest.mark.parametrize("preset", list(presets()))
def test_every_preset_value_lies_on_its_slider_s_steps(preset):
    # a slider rounds its value to its steps: a preset off them would show (and, once the
    # slider is touched, send) another value than the scenario's
    values = values_from_config(load_preset(preset))
    for c in CONTROLS:
        if c.kind in ("float", "int") and values.get(c.name) is not None:
            steps = (float(values[c.name]) - c.lo) / c.step
            assert abs(steps - round(steps)) < 1e-9, (c.name, values[c.name], c.lo, c.step)


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
    s = Session(config_for("four_assets", small(steps=120)))
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
                assert viz.status_text(s.model).startswith(f"**Day {s.day}** of 120")
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


def test_a_frame_drawn_in_parts_equals_one_drawn_whole():
    # most frames draw only the lines, or redraw only the panels whose y axis moved
    s = Session(config_for("four_assets", small()))
    plot = viz.SeriesPlot(s.model)
    kinds = set()
    for _ in range(20):
        s.step(1)
        plot.update(s.model, "BTC", s.assets_effect())
        kind = "full" if plot._background is None else "panels" if plot._dirty else "lines"
        kinds.add(kind)
        fast = plot.image()
        plot._background = None  # the same frame, drawn whole
        diff = np.abs(_pixels(fast) - _pixels(plot.image()))
        # the same picture: at most a few pixels differ, by antialiasing at a panel's edge
        assert (diff > 24).mean() < 1e-3, kind
    assert kinds >= {"panels", "lines"}


def _pixels(data_url: str) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=float)


def test_the_savers_panel_compares_with_the_same_run_without_crypto():
    s = Session(config_for("four_assets", small(allocation=0.05)))
    s.step(30)
    assert s.twin.config.savers.allocation == 0.0 and s.model.config.savers.allocation == 0.05
    assert s.twin.datacollector.model_vars["saver_crypto_wealth"][-1] == 0.0
    # the same seed: the twin's fundamental path is the model's (common random numbers)
    assert (
        s.twin.datacollector.model_vars["fundamental"]
        == (s.model.datacollector.model_vars["fundamental"])
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


# ---- the served page in a real browser ------------------------------------------------------
def readme_command() -> list[str]:
    """The app's command exactly as the README's browser-app section gives it."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The browser app") :]
    line = next(ln for ln in section.splitlines() if "solara run app.py" in ln)
    return shlex.split(line.split("#")[0])


class _Recorder(socketserver.BaseRequestHandler):
    """A 'proxy' that records what reaches it and answers nothing: the server's and the
    browser's only route off this machine, so any attempt to leave it is seen."""

    def handle(self) -> None:
        self.request.settimeout(2)
        try:
            first = self.request.recv(1024).split(b"\r\n")[0]
        except OSError:
            first = b"?"
        self.server.seen.append(first.decode(errors="replace"))


def _recording_proxy():
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Recorder)
    srv.seen = []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture(scope="module")
def recorder():
    """The app server's only route out."""
    srv = _recording_proxy()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser_recorder():
    """The browser's only route out (Chromium's own services show up here too)."""
    srv = _recording_proxy()
    yield srv
    srv.shutdown()
    srv.server_close()


# Chromium's own services (updates, sign-in, autofill): the browser's, not the page's
CHROMIUM_OWN = re.compile(
    r"^(CONNECT|POST|GET) (http://)?[\w.-]+\.(google\.com|googleapis\.com|gstatic\.com)[:/]"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, recorder):
    command = readme_command()
    assert command[:3] == [".venv/bin/solara", "run", "app.py"] and "127.0.0.1" in command
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proxy = f"http://127.0.0.1:{recorder.server_address[1]}"
    env = {  # the README's command, on a free port (Solara reads $PORT), its only route out
        **{k: v for k, v in os.environ.items() if not k.startswith("SOLARA_")},
        "PORT": str(port),
        **{k: proxy for k in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy")},
        **{k: proxy for k in ("http_proxy", "all_proxy")},
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }
    log = tmp_path_factory.mktemp("server") / "solara.log"
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail(f"the app server did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        try:
            yield f"http://127.0.0.1:{port}/", log
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def browser(browser_recorder):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install chromium); CI must have it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--no-pings",
        "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter",
        f"--proxy-server=127.0.0.1:{browser_recorder.server_address[1]}",
        "--proxy-bypass-list=127.0.0.1",
    ]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield b
        b.close()


def test_the_app_as_a_researcher_uses_it(server, browser, recorder, browser_recorder, tmp_path):
    url, log = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # tall enough that every screenshot shows the whole page (Solara scrolls inside it)
    context = browser.new_context(viewport={"width": 1500, "height": 1900}, accept_downloads=True)
    page = context.new_page()
    outside, failed, sockets = [], [], []

    def route(r):  # only the app's own server may be asked for anything
        if r.request.url.startswith(url):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        _drive(page, url, tmp_path)
    finally:
        page.screenshot(path=ARTIFACTS / "last.png", full_page=True)
        context.close()
    assert not outside, f"the page asked for something off this machine: {outside}"
    assert not failed, failed
    assert sockets and all(u.startswith(url.replace("http", "ws")) for u in sockets), sockets
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert not recorder.seen, f"the app server tried to leave this machine: {recorder.seen}"
    page_traffic = [t for t in browser_recorder.seen if not CHROMIUM_OWN.match(t)]
    assert not page_traffic, f"the browser tried to leave this machine: {page_traffic}"


def _shot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def _status(page):
    return page.locator(".crypto401k-status")


def _day(page) -> int:
    return int(re.search(r"Day (\d+) of", _status(page).inner_text()).group(1))


def _wait_day(page, n: int, timeout: float = 60_000) -> None:
    page.get_by_text(re.compile(rf"^Day {n} of")).wait_for(timeout=timeout)


def _settled_day(page, within: float = 20.0) -> int:
    """The day the status shows once it has not changed for a second."""
    last, end = _day(page), time.monotonic() + within
    while time.monotonic() < end:
        time.sleep(1)
        now = _day(page)
        if now == last:
            return now
        last = now
    raise AssertionError(f"the status still changes {within} s after the run stopped")


def _no_overlap(page, where: str) -> None:
    """The page's boxes (the side column, the status, the network, the colour key, the
    selected agent, the agencies and the time series) do not overlap, and no slider is
    squeezed."""
    names = [
        ".crypto401k-side",
        ".crypto401k-status",
        ".crypto401k-network-image",
        ".crypto401k-key",
        ".crypto401k-node",
        ".crypto401k-agencies",
        ".crypto401k-series-image",
    ]
    boxes = {n: page.locator(n).first.bounding_box() for n in names}
    for i, (a, p) in enumerate(boxes.items()):
        assert p is not None and p["width"] > 0 and p["height"] > 0, (where, a)
        for b, q in list(boxes.items())[i + 1 :]:
            apart = (
                p["x"] + p["width"] <= q["x"] + 1
                or q["x"] + q["width"] <= p["x"] + 1
                or p["y"] + p["height"] <= q["y"] + 1
                or q["y"] + q["height"] <= p["y"] + 1
            )
            assert apart, f"{where}: {a} {p} overlaps {b} {q}"
    for box in page.locator(".crypto401k-slider").all():
        assert box.bounding_box()["width"] >= 120, where
    # the figures are shown at their own size, not shrunk
    for name in (".crypto401k-network-image", ".crypto401k-series-image"):
        natural, shown = page.locator(name).first.evaluate("e => [e.naturalWidth, e.clientWidth]")
        assert natural == shown, (where, name, natural, shown)


def _drive(page, url: str, tmp_path: Path) -> None:
    page.goto(url, wait_until="domcontentloaded")
    step = page.get_by_role("button", name="Step")
    step.wait_for(timeout=180_000)
    _wait_day(page, 0)
    page.locator(".crypto401k-series-image").wait_for(timeout=60_000)
    _shot(page, "01-start")
    _no_overlap(page, "four-asset market")

    # the day counts days simulated: the start is day 0, one Step makes it day 1
    price = re.compile(r"price \$([\d,]+)")
    before = price.search(_status(page).inner_text()).group(1)
    step.click()
    _wait_day(page, 1)
    assert price.search(_status(page).inner_text()).group(1) != before
    # run N days: exactly N more
    page.locator(".crypto401k-run-days input").fill("5")
    page.get_by_role("button", name="Run N days").click()
    _wait_day(page, 6)
    time.sleep(1)
    assert _day(page) == 6

    # every slider shows its value; a moved one is marked pending until Reset applies it
    allocation = page.locator(".control-allocation")
    assert "401(k) crypto allocation: 1%" in allocation.inner_text()
    allocation.get_by_role("slider").focus()
    allocation.get_by_role("slider").press("ArrowRight")
    allocation.get_by_text("401(k) crypto allocation: 1.5%").wait_for(timeout=30_000)
    assert "(pending)" in allocation.inner_text()
    page.get_by_text(re.compile("Changes pending - press Reset to apply")).wait_for()
    _shot(page, "02-pending")
    assert "allocation 1.0%" in _status(page).inner_text()  # not applied yet
    page.get_by_role("button", name="Reset (apply)").click()
    page.get_by_text(re.compile(r"allocation 1\.5%")).wait_for(timeout=60_000)
    _wait_day(page, 0)
    assert page.get_by_text(re.compile("Changes pending")).count() == 0

    # a typed entry: a 60-day run, run to its end; it stops at day 60 and says so
    entry = page.locator(".control-steps .crypto401k-entry input")
    entry.fill("60")
    entry.press("Enter")
    page.locator(".control-steps").get_by_text("days to simulate: 60 days").wait_for()
    page.get_by_role("button", name="Reset (apply)").click()
    page.get_by_text(re.compile(r"^Day 0 of 60 ")).wait_for(timeout=60_000)
    page.get_by_role("button", name="Run to end").click()
    page.locator(".crypto401k-finished").wait_for(timeout=120_000)
    assert "day 60 is the run's last day" in page.locator(".crypto401k-finished").inner_text()
    # the status is a separate widget: its update of the same frame may reach the browser
    # after the notice's (the pictures it waits for take a moment on a loaded machine)
    _wait_day(page, 60, timeout=30_000)
    assert step.is_disabled()
    time.sleep(1)
    assert _day(page) == 60  # and it stays there
    _shot(page, "03-finished")

    # the downloads: the CSV is what `crypto401k run` writes for the downloaded config.toml
    with page.expect_download() as got:
        page.get_by_role("button", name=re.compile("time series")).click()
    csv = Path(got.value.path()).read_bytes()
    with page.expect_download() as got:
        page.get_by_role("button", name=re.compile("scenario")).click()
    config = tmp_path / "config.toml"
    config.write_bytes(Path(got.value.path()).read_bytes())
    out = tmp_path / "run"
    argv = ["run", "--config", str(config), "--steps", "60", "--out", str(out), "--quiet"]
    assert cli_main(argv) == 0
    assert csv == (out / "timeseries.csv").read_bytes()
    assert csv.count(b"\n") == 62  # header and days 0 to 60

    # click a node: an institution at the centre, then a saver cohort on the outer ring
    image = page.locator(".crypto401k-network-image")
    box = image.bounding_box()
    scale = box["width"] / viz.NETWORK_PX
    for (x, y), agent in (((324.8, 280.0), "institution"), ((280.0, 57.0), "saver cohort")):
        image.click(position={"x": x * scale, "y": y * scale})
        node = page.locator(".crypto401k-node")
        node.get_by_text(re.compile(rf"^{agent} \d+")).first.wait_for(timeout=30_000)
        assert (
            "leverage" in node.inner_text()
            if agent == "institution"
            else "age" in (node.inner_text())
        )
    _shot(page, "04-node")

    # a value the configuration rejects: one message, the running model unchanged
    entry = page.locator(".control-leverage .crypto401k-entry input")
    entry.fill("4")
    entry.press("Enter")
    page.get_by_role("button", name="Reset (apply)").click()
    error = page.locator(".crypto401k-not-applied")
    error.wait_for(timeout=30_000)
    assert "institutions.leverage_max = 3.0" in error.inner_text() and "4.0" in error.inner_text()
    assert _day(page) == 60
    _shot(page, "05-bad-value")
    page.get_by_role("button", name="Restore defaults").click()
    page.locator(".control-leverage").get_by_text("funds' target leverage: 2x").wait_for()

    # presets: the Bitcoin-only market shows no four-asset controls
    _choose(page, ".crypto401k-preset", "btc_only")
    page.get_by_role("button", name="Reset (apply)").click()
    page.get_by_text(re.compile(r"^Day 0 of 3650")).wait_for(timeout=60_000)
    assert page.locator(".control-custody").count() == 0
    assert page.locator(".control-reserve_loss").count() == 0
    assert "exchanges:" not in _status(page).inner_text()
    _shot(page, "06-btc-only")
    # the agencies market: the allocation waits for plans to offer crypto, and says so
    _choose(page, ".crypto401k-preset", "agencies")
    page.get_by_role("button", name="Reset (apply)").click()
    page.get_by_text(re.compile("waiting for the DOL|wait for the DOL")).wait_for(timeout=60_000)
    assert page.locator(".control-threshold").count() == 0  # the agencies replace it
    page.get_by_text(re.compile("plans offering crypto 0%")).wait_for()
    _no_overlap(page, "agencies market")
    _shot(page, "07-agencies")

    # the four-asset market again, another asset's price panels
    _choose(page, ".crypto401k-preset", "four_assets")
    page.get_by_role("button", name="Reset (apply)").click()
    page.get_by_text(re.compile(r"exchanges: 0 of 20 failed")).wait_for(timeout=60_000)
    series = page.locator(".crypto401k-series-image")
    drawn = series.get_attribute("src")
    page.get_by_role("button", name="ETH", exact=True).click()
    page.wait_for_function(
        "([el, old]) => el.getAttribute('src') !== old",
        arg=[series.element_handle(), drawn],
        timeout=30_000,
    )

    # the fastest speed for up to 8 s (four looks, 2 s apart): the page keeps showing new
    # days and never breaks
    # (stopped early past day 2,000 so that a fast machine cannot reach the run's end, where
    # Play turns into a finished notice and there is no Pause to press)
    _choose(page, ".crypto401k-speed", "fastest")
    page.get_by_role("button", name="▶ Play").click()
    days, progress, start = [], [], time.monotonic()
    while time.monotonic() - start < 8 and (not days or days[-1] < 2000):
        time.sleep(2)
        days.append(_day(page))
        progress.append(page.get_by_text(re.compile(r"^running: day \d+ of 3650")).count())
        assert page.get_by_text("Traceback").count() == 0
        assert page.locator(".crypto401k-not-applied").count() == 0
    _shot(page, "08-fastest")
    page.get_by_role("button", name="❚❚ Pause").click()
    page.get_by_role("button", name="▶ Play").wait_for(timeout=30_000)
    assert days == sorted(days) and days[-1] > days[0], days
    assert any(progress)  # the progress of the run was shown
    paused = _settled_day(page)  # the last frame's status may still be on its way
    time.sleep(2)
    assert _day(page) == paused  # paused means paused
    step.click()
    _wait_day(page, paused + 1)
    _no_overlap(page, f"after play, day {paused + 1}")


def _choose(page, where: str, option: str) -> None:
    """Pick `option` in the (Vuetify) select inside `where`."""
    page.locator(where).locator(".v-select__slot").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_the_app_refuses_a_run_that_would_not_fit_in_memory(monkeypatch):
    # the server checks a control's value as `crypto401k run --set` does, memory included
    from crypto401k.experiments.app import inputs
    from crypto401k.experiments.app.controls import config_for
    from crypto401k.model.config import ConfigError

    real = inputs.check_fits
    monkeypatch.setattr(
        inputs, "check_fits", lambda cfg, available=None: real(cfg, available=10**6)
    )
    with pytest.raises(ConfigError) as exc:
        config_for("btc_only", {"n_savers": 3000})  # a machine with 1 MB free
    assert "\n" not in str(exc.value) and "memory" in str(exc.value).lower()
