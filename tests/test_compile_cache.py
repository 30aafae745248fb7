"""numba's cached machine code follows the whole model's code (model/compile_cache.py): a
rule that inlines a function of another file is never loaded stale after that file changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from crypto401k.model import compile_cache
from crypto401k.model.compile_cache import LOCATORS, MODEL_DIR, code_hash, model_code_hash
from crypto401k.model.market import _coins_cap
from crypto401k.model.model import savers_fear

# a fresh interpreter compiles (or loads) one small rule under NUMBA_CACHE_DIR; `changed`
# pretends another file of the model was edited
PROBE = """
import json, sys
import numpy as np
from crypto401k.model import compile_cache
if sys.argv[1] == "changed":
    compile_cache.model_code_hash = lambda: "edited elsewhere"
from crypto401k.model.market import _coins_cap
value = _coins_cap(np.array([2.0, 3.0]), np.array([5.0, 7.0]), np.array([False, True]))
stats = _coins_cap.stats
print(json.dumps([value, sum(stats.cache_hits.values()), sum(stats.cache_misses.values()),
                  type(_coins_cap._cache._impl.locator).__name__]))
"""


def probe(cache_dir, which: str) -> list:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, which], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_an_edit_anywhere_in_the_model_recompiles_a_cached_rule(tmp_path):
    first = probe(tmp_path, "same")
    assert first == [10.0, 0, 1, "UserProvidedLocator"]  # compiled, stored
    assert probe(tmp_path, "same")[1:3] == [1, 0]  # loaded from the cache
    assert probe(tmp_path, "changed")[1:3] == [0, 1]  # another file changed: compiled again
    assert probe(tmp_path, "changed")[1:3] == [1, 0]


def test_the_models_rules_use_the_model_locators_with_the_codes_stamp():
    for rule in (_coins_cap, savers_fear):
        locator = rule._cache._impl.locator
        assert isinstance(locator, LOCATORS)
        assert locator.get_source_stamp()[1] == model_code_hash()


def test_functions_outside_the_model_keep_numbas_own_locators(tmp_path):
    outside = tmp_path / "elsewhere.py"
    outside.write_text("def f():\n    return 1\n", encoding="utf-8")
    for locator in LOCATORS:
        assert locator.from_function(lambda: 1, str(outside)) is None


def test_the_code_hash_follows_every_python_file_and_nothing_else(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert code_hash(copy) == compile_cache.model_code_hash()
    (copy / "scenarios" / "btc_only.toml").write_text("# data, not code\n", encoding="utf-8")
    assert code_hash(copy) == model_code_hash()
    network = copy / "network.py"
    network.write_text(network.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert code_hash(copy) != model_code_hash()
