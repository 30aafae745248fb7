"""docs/tutorial.ipynb runs from top to bottom with the code it ships with."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "tutorial.ipynb"
# run in the notebook's kernel after its last cell: what it built, as JSON
CHECK = """import json
print(json.dumps({
    "days": len(days),
    "runs": len(runs),
    "ok": int((runs["status"] == "ok").sum()),
    "allocations": sorted(runs["savers.allocation"].unique().tolist()),
    "paired_seeds": len(paired.dropna()),
}))"""


@pytest.mark.slow
@pytest.mark.notebook
def test_the_tutorial_notebook_runs_and_builds_what_it_says(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)  # raises CellExecutionError on any error
        check = nbformat.v4.new_code_cell(CHECK)
        nb.cells.append(check)
        client.execute_cell(check, len(nb.cells) - 1)
    built = json.loads(check.outputs[-1]["text"])
    assert built == {
        "days": 366,  # day 0 and a year of steps
        "runs": 6,  # 3 seeds x (the treatment + its control)
        "ok": 6,
        "allocations": [0.0, 0.05],
        "paired_seeds": 3,
    }
    figures = [
        o
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(figures) == 1  # the price and loss panels
