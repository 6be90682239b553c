"""setup.py ships the models, word lists and Avro schemas, and setuptools does not warn about it.

A wheel holds exactly what ``build_py`` writes (plus its dist-info). The test runs that step
rather than ``pip wheel``, which needs the ``wheel`` package (absent from the dev venv with
setuptools < 70) or network access for an isolated build.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

#: setuptools' complaint about a data folder missing from ``packages``, old and new wording.
DATA_AS_PACKAGE_WARNINGS = ("as data is deprecated", "absent from the `packages` configuration")


def _data_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_build_ships_every_data_file_without_warnings(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    # egg_info goes to tmp_path too, so the build leaves the checkout as it was
    run = subprocess.run(
        [sys.executable, "setup.py", "egg_info", "--egg-base", str(tmp_path),
         "build_py", "--build-lib", str(lib)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    log = run.stdout + run.stderr
    assert [w for w in DATA_AS_PACKAGE_WARNINGS if w in log] == [], log

    data = _data_files(REPO / "core" / "data")
    assert {"lid.176.ftz", "topics.ftz", "topics.json", "stories/function_words.txt",
            "language/ngrams.npz", "topics/iptc.yaml"} <= data
    assert _data_files(lib / "wirewatch" / "core" / "data") == data
    schemas = {p.name for p in (REPO / "schemas").glob("*.avsc")}
    assert schemas and schemas <= {p.name for p in (lib / "wirewatch" / "schemas").iterdir()}
