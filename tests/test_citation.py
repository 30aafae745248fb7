"""CITATION.cff is valid CFF 1.2.0, and its version is the package's and every manifest's."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import jsonschema
import pytest
import yaml
from crypto401k.experiments.experiment import run_experiment

ROOT = Path(__file__).resolve().parent.parent
CFF = ROOT / "CITATION.cff"
# .ci/install extracts the schema from the cffconvert wheel on PyPI (the wheel's own
# jsonschema<4 pin clashes with this project's, so it is not installed)
SCHEMA = Path(sys.prefix) / "share" / "cff" / "schema-1.2.0.json"


class _StrDates(yaml.SafeLoader):
    """Reads dates as text, as CFF tools do (the schema wants "2025-08-07", not a date)."""


_StrDates.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)


def cff_errors(doc: dict) -> list[str]:
    """The schema's complaints about a parsed CITATION.cff (empty when it is valid)."""
    if not SCHEMA.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{SCHEMA} is missing: .ci/install puts it there")
        pytest.skip(f"{SCHEMA} is missing: run `bash .ci/install`")
    schema = json.loads(SCHEMA.read_text("utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    return [e.message for e in validator.iter_errors(doc)]


def citation() -> dict:
    return yaml.load(CFF.read_text("utf-8"), Loader=_StrDates)  # a SafeLoader


def test_citation_cff_is_valid_cff_1_2_0():
    doc = citation()
    assert doc["cff-version"] == "1.2.0"
    assert cff_errors(doc) == []


def test_the_schema_check_rejects_what_is_not_cff():
    doc = citation()
    assert cff_errors({k: v for k, v in doc.items() if k != "authors"})  # authors are required
    assert cff_errors({**doc, "date-released": "7 Aug 2025"})  # not an ISO date
    assert cff_errors({**doc, "typo": 1})  # no other keys


def test_one_version_in_pyproject_citation_and_the_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    import crypto401k.model

    assert citation()["version"] == pyproject["project"]["version"] == version("crypto401k")
    assert crypto401k.model.__version__ == version("crypto401k")


SPEC = """
name = "tiny"
question = "does the manifest carry the version?"
seeds = 1
years = 0.1
metrics = ["annualized_volatility"]
[base]
"savers.n_cohorts" = 40
"traders.n_traders" = 40
"savers.n_employers" = 4
[grid]
"savers.allocation" = [0.03]
[control]
"savers.allocation" = 0.0
[answer]
metric = "annualized_volatility"
treatment = { "savers.allocation" = 0.03 }
subject = "Three percent"
"""


@pytest.mark.slow
def test_an_experiment_manifest_records_the_package_version(tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    run_experiment(str(spec), out=out, workers=1, progress=False, figures=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["code"]["package"] == version("crypto401k")


@pytest.mark.parametrize(
    "manifest", sorted((ROOT / "results").glob("*/manifest.json")), ids=lambda p: p.parent.name
)
def test_the_stored_results_name_the_version_that_made_them(manifest: Path):
    code = json.loads(manifest.read_text())["code"]
    assert code["package"] and code["git_commit"]
