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
