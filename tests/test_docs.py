"""The documentation site builds with `mkdocs build --strict`: no broken link, no missing page,
no docstring mkdocstrings cannot read, no citation without its entry in docs/sources.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.docs
def test_the_docs_site_builds_strictly(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # the pages, the API from the docstrings, the notebook, and citations linked to sources
    api = (site / "api" / "model" / "index.html").read_text("utf-8")
    assert 'id="crypto401k.model.model.Crypto401kModel"' in api
    assert 'id="crypto401k.experiments.experiment.run_experiment"' in (
        site / "api" / "experiments" / "index.html"
    ).read_text("utf-8")
    assert (site / "tutorial.ipynb").is_file()
    odd = (site / "ODD" / "index.html").read_text("utf-8")
    assert 'href="../sources/#gabaix-koijen-2021"' in odd
