"""The browser app: rendered without a browser, then served and driven in a real chromium.

The browser test needs Debian's `chromium` (`apt-get install chromium`; `.ci/run` installs it)
and the front-end files that `.ci/solara-assets` puts in Solara's cache. Chromium runs with
every non-local connection sent to a dead proxy, and so does the server, so the test also
proves that the page works with no internet.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import solara
from crypto401k.experiments.viz import (
    COLOURS,
    DEFAULTS,
    AgenciesPanel,
    AppModel,
    StatusPanel,
    agencies_html,
    agencies_rows,
    node_colours,
    series_columns,
    series_figure,
    status_text,
    structured_layout,
)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DEAD_PROXY = "http://127.0.0.1:9"


def test_page_renders_without_a_browser():
    import ipywidgets

    import app

    box, rc = solara.render(app.Page(), handle_error=False)
    # the main panel: the status text and the two figures (the sidebar with the controls
    # only exists inside a served app; the browser test drives it)
    tree = repr(box)  # the widgets' state, the markdown's HTML included
    assert "<strong>Day 0</strong> · price <strong>$110,000</strong>" in tree
    images = rc.find(ipywidgets.Image).widgets
    assert len(images) == 2 and all(bytes(img.value[:4]) == b"\x89PNG" for img in images)


def test_bad_controls_keep_the_last_valid_model_and_say_why():
    good = AppModel(**DEFAULTS)
    good.step()
    bad = AppModel(**{**DEFAULTS, "leverage": 4.0})  # above the 3x margin limit
    assert bad is good and good.day == 0 and good.steps == 1
    assert "institutions.leverage_max" in good.config_error and "4.0" in good.config_error
    _, rc = solara.render(StatusPanel(good), handle_error=False)
    shown = " ".join(str(getattr(w, "children", "")) for w in rc.find().widgets)
    assert "Not applied" in shown and "leverage" in shown
    assert AppModel(**{**DEFAULTS, "seed": "-1"}) is good and "seed" in good.config_error
    assert AppModel(**{**DEFAULTS, "seed": "abc"}) is good
    fixed = AppModel(**{**DEFAULTS, "allocation": 0.05})
    assert fixed is not good and fixed.config_error is None
    assert fixed.config.savers.allocation == 0.05


def test_status_text_names_day_price_drawdown_and_action():
    m = AppModel(**{**DEFAULTS, "n_savers": 200, "n_traders": 200})
    for _ in range(5):
        m.step()
    text = status_text(m)
    assert "Day 4" in text and "price" in text and "drawdown" in text and "regulator" in text


def test_several_assets_exchanges_and_the_peg_are_shown():
    small = {**DEFAULTS, "n_savers": 200, "n_traders": 200}
    m = AppModel(**{**small, "exchange_fail_day": 10, "reserve_shock_day": 10, "reserve_loss": 0.3})
    assert m.asset_names == ["BTC", "ETH", "DEFI", "USDC"]
    # the exchanges are nodes on the graph, with custody edges to their customers
    assert len(structured_layout(m)) == m.n_nodes == m.first_node["exchanges"] + 20
    assert {layer for *_, layer in m.graph.edges(data="layer")} >= {"social", "custody"}
    exchanges = slice(m.first_node["exchanges"], None)
    assert (node_colours(m)[exchanges] == COLOURS["exchange"]).all()
    for _ in range(12):
        m.step()
    # the largest exchange failed on day 10 and is marked; the reserve loss broke the peg
    marked = node_colours(m)[exchanges] == COLOURS["failed exchange"]
    assert marked[0] and marked.sum() == m.exchanges.failed.sum()
    text = status_text(m)
    assert re.search(r"exchanges: [1-9]\d* of 20 failed, \$[\d,.]+B lost", text)
    assert "stablecoin USDC: peg" in text and "reserve $" in text and "ETH $" in text
    # the asset selector's price panels: each asset's own columns, the peg with its reserve
    assert series_columns(m, "ETH")[:3] == ["price_ETH", "fundamental_ETH", "volatility_30d_ETH"]
    assert series_columns(m, "USDC")[:2] == ["price_USDC", "stable_coverage"]
    df = m.datacollector.get_model_vars_dataframe()
    assert df["price_USDC"].min() < 0.9 and df["stable_coverage"].min() < 0.9
    fig = series_figure(m, "USDC")
    price, reserve = fig.axes[0].get_lines()[:2]
    assert reserve.get_label() == "reserve per coin"
    assert price.get_ydata().min() == pytest.approx(df["price_USDC"].min())


def test_the_agencies_panel_shows_each_stage_and_the_ledger():
    m = AppModel(**{**DEFAULTS, "market": "agencies", "n_savers": 200, "n_traders": 200})
    for _ in range(3):
        m.step()
    rows = {r["agency"]: r for r in agencies_rows(m)}
    assert list(rows) == ["DOL", "SEC", "IRS", "CFTC"]
    # the executive order set the DOL, SEC and IRS to work on day 0; nothing is in force
    assert rows["DOL"]["stage"] == "proposing" and rows["IRS"]["stage"] == "proposing"
    assert all(r["in force"] == "-" for r in rows.values())
    box, _ = solara.render(AgenciesPanel(m), handle_error=False)
    shown = repr(box)
    assert "<td>DOL</td><td>proposing</td>" in shown and "plans offering crypto 0%" in shown
    assert "Public purse" in shown and "without the crypto option" in shown
    assert "policy: the four agencies" in status_text(m)
    # the simple scenario names its single regulator instead
    simple = AppModel(**{**DEFAULTS, "n_savers": 200, "n_traders": 200})
    assert agencies_rows(simple) == [] and "one regulator" in agencies_html(simple)


def test_btc_only_scenario_has_one_asset_and_no_exchanges():
    m = AppModel(**{**DEFAULTS, "market": "btc_only", "n_savers": 200, "n_traders": 200})
    assert m.asset_names == ["BTC"] and m.exchanges.n == 0 and m.stablecoin is None
    assert series_columns(m, "BTC")[0] == "price"
    assert "exchanges" not in status_text(m)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "HTTPS_PROXY": DEAD_PROXY,
        "HTTP_PROXY": DEAD_PROXY,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    solara_bin = Path(sys.executable).parent / "solara"
    log = tmp_path_factory.mktemp("server") / "solara.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(solara_bin),
                "run",
                "app.py",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--production",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail(f"the app server did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
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
        f"--proxy-server={DEAD_PROXY.removeprefix('http://')}",
        "--proxy-bypass-list=127.0.0.1;localhost",
    ]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield b
        b.close()


def test_browser_steps_the_model_and_rebuilds_it_from_the_controls(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        _drive(page, server)
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "app.png", full_page=True)
        page.close()
    assert not failed, failed  # every file came, from the local server


def _day(page, n: int) -> None:
    page.get_by_text(re.compile(rf"Day {n} · price")).wait_for(timeout=30_000)


def _drive(page, server: str) -> None:
    page.goto(server, wait_until="domcontentloaded")
    step = page.get_by_role("button", name="Step")
    step.wait_for(timeout=120_000)
    status = page.get_by_text(re.compile(r"Day \d+ · price"))
    status.wait_for(timeout=60_000)
    page.locator("img").first.wait_for(timeout=60_000)  # a figure arrived
    before = status.inner_text()
    assert before.startswith("Day 0")
    for _ in range(4):
        step.click()
        time.sleep(0.3)
    _day(page, 3)  # four steps: days 0..3 simulated
    after = status.inner_text()
    price = re.compile(r"price \$([\d,]+)")
    assert price.search(after).group(1) != price.search(before).group(1)

    # the asset selector redraws the price panels for another asset
    series = page.locator("img").last
    drawn = series.get_attribute("src")
    page.get_by_role("button", name="ETH", exact=True).click()
    page.wait_for_function(
        "([el, old]) => el.getAttribute('src') !== old",
        arg=[series.element_handle(), drawn],
        timeout=30_000,
    )
    assert page.get_by_text(re.compile(r"exchanges: \d+ of 20 failed")).is_visible()
    # the agencies panel and the public purse's ledger are on the page
    assert page.get_by_text(re.compile(r"Public purse")).is_visible()
    assert page.get_by_text(re.compile(r"without the crypto option \$[\d,]+B")).is_visible()

    # one notch of the allocation slider (0.03 -> 0.035), then Reset rebuilds the model
    slider = page.get_by_role("slider", name="401(k) crypto allocation")
    slider.focus()
    slider.press("ArrowRight")
    assert slider.get_attribute("aria-valuenow") == "0.035"
    page.get_by_role("button", name="Reset").click()
    page.get_by_text(re.compile(r"401\(k\) crypto allocation 3\.5%")).wait_for(timeout=60_000)
    for _ in range(4):
        step.click()
        time.sleep(0.3)
    _day(page, 3)

    # a combination the configuration rejects: the message shows, and the same model goes on
    leverage = page.get_by_role("slider", name=re.compile("target leverage"))
    leverage.focus()
    leverage.press("End")  # 5x, above the 3x margin limit
    page.get_by_role("button", name="Reset").click()
    page.get_by_text(re.compile("Not applied: institutions.leverage_max")).wait_for(timeout=30_000)
    _day(page, 3)  # not rebuilt: still day 3 ...
    assert page.get_by_text(re.compile(r"401\(k\) crypto allocation 3\.5%")).is_visible()
    step.click()
    _day(page, 4)  # ... and it keeps running
