"""The test layers stay true: every test named `slow` in conftest exists, and the markers used
are registered (pytest's --strict-markers would reject a typo)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tests.conftest import SHARED_FIXTURES, SLOW

TESTS = Path(__file__).resolve().parent


def _test_functions(module: str) -> set[str]:
    tree = ast.parse((TESTS / module).read_text("utf-8"))
    return {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
    }


@pytest.mark.parametrize("module", sorted(SLOW))
def test_every_test_marked_slow_by_name_exists(module: str):
    missing = SLOW[module] - _test_functions(module)
    assert not missing, f"tests/conftest.py's SLOW names tests that {module} lacks: {missing}"


def test_the_markers_are_registered():
    config = tomllib.loads((TESTS.parent / "pyproject.toml").read_text("utf-8"))
    pytest_ini = config["tool"]["pytest"]["ini_options"]
    registered = {m.split(":")[0] for m in pytest_ini["markers"]}
    assert {"slow", "browser", "dask", "notebook", "docs"} <= registered
    assert "--dist loadgroup" in pytest_ini["addopts"]  # SHARED_FIXTURES needs it
    assert set(SHARED_FIXTURES) == {"quick", "server", "browser", "swept"}


def test_the_quick_fixture_tests_are_slow_and_grouped(request):
    items = [i for i in request.session.items if "quick" in getattr(i, "fixturenames", ())]
    if not items:
        pytest.skip("the tests of the quick fixture are not selected in this session")
    for item in items:
        marks = {m.name: m for m in item.iter_markers()}
        (group,) = marks["xdist_group"].args
        experiment = getattr(item, "callspec", None) and item.callspec.params.get("name")
        assert "slow" in marks and group == f"experiments-quick-{experiment or 'dampen'}"
        if hasattr(request.config, "workerinput"):  # under xdist: the scheduler's group key
            assert item.nodeid.endswith(f"@{group}"), item.nodeid
