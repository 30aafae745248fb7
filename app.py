"""The crypto401k browser app: `.venv/bin/solara run app.py --host 127.0.0.1` (port 8765).

Set the controls on the left, press Reset to build the model with them, then Step or Play.
Each browser session gets its own model. The parts live in `experiments/viz.py`.
"""

import solara
from crypto401k.experiments.viz import (
    CONTROLS,
    DEFAULTS,
    AgenciesPanel,
    AppModel,
    NetworkView,
    SeriesView,
    StatusPanel,
)
from mesa.visualization import SolaraViz


@solara.component
def Page():  # noqa: N802 (Solara's name for a page)
    model = solara.use_memo(lambda: AppModel(**DEFAULTS), [])  # once per session
    SolaraViz(
        model,
        components=[(StatusPanel, 0), (NetworkView, 0), (SeriesView, 0), (AgenciesPanel, 0)],
        model_params=CONTROLS,
        name="crypto401k: 401(k) money in a crypto market",
        play_interval=150,
    )
