"""How fast the browser app is, in a real browser: one Step from the click to the redrawn page,
and the days a second that Play shows.

    .venv/bin/python benchmarks/app_step.py [--steps 12] [--play-seconds 20]

Starts the app with the README's command (on a free port, through `$PORT`), opens it in
Debian's chromium through Playwright and, on the default scenario (the four-asset market,
2,000 saver cohorts, 1,000 traders, its twin without crypto stepped alongside):

- clicks Step repeatedly and times each click until the status shows the new day and the
  time series has been redrawn (the whole page is redrawn in the same message);
- plays at the default speed and at 'fastest' for `--play-seconds` each, and counts the days
  the page shows a second (the status text, read every 0.2 s).

Then times the server's parts in this process: one day of the model and its twin, one frame
of the graph, one of the time series (lines only, and a full redraw). Prints everything. A
measurement, not a test: nothing asserts on it (tests/test_app.py checks behaviour).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_command() -> list[str]:
    """The app's command as the README's browser-app section gives it."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The browser app") :]
    line = next(ln for ln in section.splitlines() if "solara run app.py" in ln)
    return shlex.split(line.split("#")[0])


def server_parts() -> None:
    """The server's work per frame, timed in this process (median of 10)."""
    from crypto401k.experiments.app import viz
    from crypto401k.experiments.app.controls import (
        DEFAULT_PRESET,
        config_for,
        load_preset,
        values_from_config,
    )
    from crypto401k.experiments.app.session import Session

    cfg = config_for(DEFAULT_PRESET, values_from_config(load_preset(DEFAULT_PRESET)))
    s = Session(cfg)
    net, plot = viz.NetworkImage(s.model), viz.SeriesPlot(s.model)
    s.step(200)

    def timed(f, n: int = 10) -> float:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    def full() -> None:
        plot._background = None
        plot.image()

    plot.update(s.model, None, s.assets_effect())
    parts = {
        "one day, model and its twin": lambda: s.step(1),
        "market graph frame (JPEG)": lambda: viz.jpeg_data_url(net.frame(s.model)),
        "time series, lines only (JPEG)": plot.image,
        "time series, full redraw": full,
        "status and agencies text": lambda: (viz.status_text(s.model), viz.agencies_html(s.model)),
    }
    print("server, median of 10 (this process):")
    for name, f in parts.items():
        print(f"  {name:<34} {timed(f):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--play-seconds", type=float, default=20.0)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or sys.exit("chromium not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        readme_command(),
        cwd=ROOT,
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(360):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1500, "height": 1900})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            step = page.get_by_role("button", name="Step")
            step.wait_for(timeout=180_000)
            status = page.locator(".crypto401k-status")
            page.get_by_text(re.compile(r"^Day 0 of")).wait_for(timeout=60_000)
            series = page.locator(".crypto401k-series-image")
            series.wait_for(timeout=60_000)

            def day() -> int:
                return int(re.search(r"Day (\d+) of", status.inner_text()).group(1))

            times = []
            for n in range(1, args.steps + 1):
                old = series.get_attribute("src")
                start = time.perf_counter()
                step.click()
                # the new day in the status, and the time series redrawn (the graph's image
                # only changes when a node changes colour, so it is not waited for)
                while not status.inner_text().startswith(f"Day {n} "):
                    time.sleep(0.005)
                while series.get_attribute("src") == old:
                    time.sleep(0.005)
                times.append(time.perf_counter() - start)
            steady = times[2:] or times
            print("Step, click to redrawn page, seconds:", " ".join(f"{t:.2f}" for t in times))
            print(
                f"  median {statistics.median(steady):.2f} s, max {max(steady):.2f} s "
                "(after 2 warm-up steps)"
            )

            def play(speed: str) -> None:
                page.locator(".crypto401k-speed .v-select__slot").click()
                page.get_by_role("option", name=speed, exact=True).click()
                first = day()
                page.get_by_role("button", name="▶ Play").click()
                start = time.perf_counter()
                while time.perf_counter() - start < args.play_seconds:
                    time.sleep(0.2)
                shown = day() - first
                elapsed = time.perf_counter() - start
                page.get_by_role("button", name="❚❚ Pause").click()
                page.get_by_role("button", name="▶ Play").wait_for(timeout=60_000)
                print(f"Play at {speed}: {shown} days shown in {elapsed:.1f} s = "
                      f"{shown / elapsed:.1f} days/s")  # fmt: skip

            play("30 days/s")
            play("fastest")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    server_parts()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
