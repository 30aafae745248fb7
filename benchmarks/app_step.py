"""How long one Step of the browser app takes, click to redrawn page, in a real browser.

    .venv/bin/python benchmarks/app_step.py [--steps 12] [--port 8811]

Starts `solara run app.py` (the default scenario: 2,000 saver cohorts, 1,000 traders, 20
institutions), opens it in Debian's chromium through Playwright, clicks Step repeatedly and
times each click until the status text shows the new day and the time-series image has
changed. Prints each time and the median and maximum after two warm-up steps. A measurement,
not a test: nothing asserts on it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--port", type=int, default=8811)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or sys.exit("chromium not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "solara"),
            "run",
            "app.py",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--production",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(240):
            try:
                socket.create_connection(("127.0.0.1", args.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(f"http://127.0.0.1:{args.port}/", wait_until="domcontentloaded")
            step = page.get_by_role("button", name="Step")
            step.wait_for(timeout=120_000)
            status = page.get_by_text(re.compile(r"Day \d+ · price"))
            status.wait_for(timeout=60_000)
            images = page.locator("img")
            images.nth(1).wait_for(timeout=60_000)
            times = []
            for n in range(args.steps):
                old = images.nth(1).get_attribute("src")
                start = time.perf_counter()
                step.click()
                while not status.inner_text().startswith(f"Day {n} "):
                    time.sleep(0.005)
                while images.nth(1).get_attribute("src") == old:
                    time.sleep(0.005)
                times.append(time.perf_counter() - start)
            browser.close()
    finally:
        server.terminate()
    steady = times[2:] or times
    print("click to redrawn page, seconds:", " ".join(f"{t:.2f}" for t in times))
    print(
        f"median {statistics.median(steady):.2f} s, max {max(steady):.2f} s (after 2 warm-up steps)"
    )


if __name__ == "__main__":
    main()
