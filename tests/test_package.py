"""The install claims one top-level name, crypto401k, and nothing generic."""

import subprocess
import sys


def test_installed_as_crypto401k_and_nothing_named_model_outside_the_repository(tmp_path):
    # a user's folder with Mesa's usual model.py: `import model` must find the user's file
    (tmp_path / "model.py").write_text("WHO = 'user'\n")
    code = (
        "import importlib.util, model, crypto401k.model as m, crypto401k.experiments as e\n"
        "assert model.WHO == 'user'\n"
        "assert importlib.util.find_spec('experiments') is None\n"
        "print(m.__version__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    from importlib.metadata import version

    assert out.stdout.strip() == version("crypto401k")


def test_every_subpackage_is_listed_for_a_plain_install():
    """`pip install .` (not editable) ships only the packages pyproject.toml lists: every
    folder of model/ and experiments/ with an __init__.py must be one of them."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    listed = set(
        tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = set()
    for top in ("model", "experiments"):
        for init in (root / top).rglob("__init__.py"):
            parts = init.parent.relative_to(root).parts
            found.add(".".join(("crypto401k", *parts)))
    assert found <= listed, sorted(found - listed)
