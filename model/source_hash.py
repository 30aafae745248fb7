"""A content hash of the model's code and built-in data: a stored run is reused only by the
model that made it.

Sweeps and the estimate store each run under a key (`experiments.spec.Point.key`,
`experiments.estimate.point_key`) so that a killed command resumes where it stopped. The
key holds the point's overrides; this hash adds the model itself, so that after a change of
rules or of defaults a resumed command runs the points again instead of mixing runs of two
models. What is measured from a run lives outside `model/` and is versioned by hand:
`experiments.spec.METRICS_VERSION` and `experiments.estimate.MOMENTS_VERSION` are bumped
whenever a metric or a moment changes. Line endings and the platform's path rules do not
change the hash.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent
SUFFIXES = (".py", ".toml", ".csv", ".json")


def source_hash(directory: Path) -> str:
    """SHA-256 (first 16 hex digits) over the relative path (POSIX) and bytes (line endings
    as LF) of every source and data file (`SUFFIXES`) under `directory`, in path order."""
    digest = hashlib.sha256()
    files = {
        p.relative_to(directory).as_posix(): p
        for p in directory.rglob("*")
        if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts
    }
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(files[name].read_bytes().replace(b"\r\n", b"\n"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@cache
def model_source_hash() -> str:
    """`source_hash` of the installed model package, computed once per process."""
    return source_hash(MODEL_DIR)
