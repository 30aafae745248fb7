"""The optional parts are extras: the core runs without them, and asking for a missing one
is one message naming the extra to install (exit status 2), before any work."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from crypto401k.experiments import experiment as experiment_mod
from crypto401k.experiments.cli import main
from crypto401k.experiments.extras import EXTRAS

OPTIONAL = ("solara", "ipyvue", "ipyvuetify", "dask", "distributed", "SALib")


def test_the_core_imports_no_optional_part(tmp_path):
    """The model, the CLI's run (a whole run), validation and the experiment runner import
    nothing that an extra installs."""
    code = (
        "import sys\n"
        "import crypto401k.model, crypto401k.experiments.experiment\n"
        "import crypto401k.experiments.validate, crypto401k.experiments.calibrate\n"
        "from crypto401k.experiments.cli import main\n"
        "argv = ['run', '--steps', '5', '--set', 'savers.n_cohorts=20', '--set',\n"
        "        'traders.n_traders=20', '--set', 'savers.n_employers=2', '--quiet',\n"
        f"        '--out', {str(tmp_path / 'run')!r}]\n"
        "assert main(argv) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = set(ast.literal_eval(done.stdout))
    assert "crypto401k" in loaded and "mesa" in loaded
    assert not loaded & set(OPTIONAL)


def test_the_command_line_and_the_configuration_import_no_model_until_used():
    """A usage error, `--help` or a configuration check does not wait for Mesa, scipy and
    numba to import (about 2 s): they come with the model, on its first use."""
    code = (
        "import sys\n"
        "import crypto401k.experiments.cli, crypto401k.model.config, crypto401k.model.scenarios\n"
        "from crypto401k.experiments.cli import build_parser\n"
        "build_parser()\n"
        "heavy = {'mesa', 'scipy', 'numba', 'pandas', 'networkx'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
        "from crypto401k.model import Crypto401kModel\n"
        "print(Crypto401kModel.__module__, 'mesa' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.strip().splitlines()
    assert ast.literal_eval(first) == []
    assert second == "crypto401k.model.model True"


def _hide(monkeypatch, top: str) -> None:
    """Make `top` and its submodules unimportable, as if its extra were not installed."""
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, top, None)  # import then raises ImportError


@pytest.mark.parametrize(
    ("argv", "hidden", "extra", "named"),
    [
        (["experiment", "sensitivity", "--quick"], "SALib", "sensitivity", "sensitivity"),
        (
            ["experiment", "dampen", "--quick", "--scheduler", "tcp://127.0.0.1:9"],
            "distributed",
            "dask",
            "--scheduler = 'tcp://127.0.0.1:9'",
        ),
    ],
)
def test_a_missing_extra_is_one_message_naming_it(
    tmp_path, capsys, monkeypatch, argv, hidden, extra, named
):
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the missing extra was named")

    monkeypatch.setattr(experiment_mod, "run_sweep", forbidden)
    _hide(monkeypatch, hidden)
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert named in err and f"pip install 'crypto401k[{extra}]'" in err, err
    assert not any((tmp_path / "o").glob("runs/*.json"))


def test_every_extra_is_declared_and_in_all():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    for extra, module in EXTRAS.items():
        assert any(module.lower() in d.lower() for d in extras[extra]), (extra, module)
    assert extras["all"] == [f"crypto401k[{','.join(EXTRAS)}]"]
    core = " ".join(project["project"]["dependencies"]).lower()
    assert not any(m.lower() in core for m in OPTIONAL)
