"""The crypto401k browser app. Start it with the README's command:

    .venv/bin/solara run app.py --host 127.0.0.1 --production --no-check-version

then open http://127.0.0.1:8765. The page and its parts live in `experiments/app/`:
`page.py` (layout and buttons), `controls.py` (parameters), `session.py` (the run) and `viz.py`
(pictures). Each browser session gets its own model.

Offline: `--no-check-version` stops Solara asking PyPI for a newer version (it does so before
this file is read); `--production` drops the page's hidden frame from solara.dev; and below,
before the server starts, Solara's usage reporting (Mixpanel, and api.ipify.org for the
server's address) is switched off through its documented setting
`SOLARA_TELEMETRY_MIXPANEL_ENABLE`.
"""

import os

os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")

import solara.server.settings

solara.server.settings.telemetry.mixpanel_enable = False  # read when the server starts
solara.server.settings.theme.show_banner = False  # a "runs on Solara" box over the page

from crypto401k.experiments.app.page import Page  # noqa: E402, F401 (what Solara serves)
