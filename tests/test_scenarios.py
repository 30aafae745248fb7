"""The built-in scenario and experiment files: copies that stay copies, sources a reader has."""

from __future__ import annotations

from pathlib import Path

import pytest
from crypto401k.model import scenarios

from tests.test_sources import FILE  # a file named in text, as parameter sources are read

ROOT = Path(__file__).resolve().parent.parent
TOML_FILES = sorted([*ROOT.glob("model/scenarios/*.toml"), *ROOT.glob("experiments/specs/*.toml")])


def _differences(a: object, b: object, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in _differences(a.get(k), b.get(k), f"{path}.{k}")
        ]
    return [] if a == b else [path]


def test_the_agencies_scenario_is_the_four_asset_market_with_the_agencies():
    """agencies.toml copies four_assets.toml (a copy that once kept the hand calibration's
    ETH and DeFi volatilities after four_assets took the estimate's): only the agencies and
    the plans' allocation may differ."""
    agencies = scenarios.load("agencies").to_toml_dict()
    four = scenarios.load("four_assets").to_toml_dict()
    allowed = {".savers.allocation"}
    differ = [d for d in _differences(agencies, four) if not d.startswith(".agencies.")]
    assert set(differ) <= allowed, differ


@pytest.mark.parametrize("path", TOML_FILES, ids=[p.name for p in TOML_FILES])
def test_a_comment_names_only_files_in_the_repository(path: Path):
    comments = [
        line.split("#", 1)[1] for line in path.read_text("utf-8").splitlines() if "#" in line
    ]
    for text in comments:
        assert "../" not in text, f"{path.name}: {text.strip()}"
        for name in FILE.findall(text):
            assert (ROOT / name).exists() or any(ROOT.glob(f"**/{name}")), (path.name, name)
