"""Stored runs are keyed by the model's code: a change of rules or defaults is never mixed
with runs of the model before it."""

import shutil

from crypto401k.experiments import estimate as est
from crypto401k.experiments import spec as spec_mod
from crypto401k.model.source_hash import MODEL_DIR, model_source_hash, source_hash


def test_the_hash_is_the_installed_models_and_follows_every_source_file(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert source_hash(copy) == model_source_hash()
    (copy / "scenarios" / "btc_only.toml").write_text("# another default\n", encoding="utf-8")
    edited = source_hash(copy)
    assert edited != model_source_hash()
    (copy / "README.md").write_text("docs only", encoding="utf-8")  # not code: same hash
    assert source_hash(copy) == edited
    # a checkout with CRLF line endings is the same code
    for path in copy.rglob("*.py"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert source_hash(copy) == edited


def test_run_keys_change_with_the_model(monkeypatch):
    spec = spec_mod.load_spec("dampen")
    points = spec_mod.grid_points(spec, None)
    overrides = {"savers.allocation": 0.0, "run.steps": 100}
    before = [p.key for p in points], est.point_key(overrides)
    monkeypatch.setattr(spec_mod, "model_source_hash", lambda: "another model")
    monkeypatch.setattr(est, "model_source_hash", lambda: "another model")
    after = [p.key for p in points], est.point_key(overrides)
    assert set(before[0]).isdisjoint(after[0])
    assert before[1] != after[1]
