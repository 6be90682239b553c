"""The boundary the layout promises: pure logic in ``core/`` never imports Beam."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"


def test_core_does_not_import_beam():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names
                          if n.split(".")[0] == "apache_beam" or n.startswith("wirewatch.pipelines")
                          or n.startswith("wirewatch.connectors")]
    assert offenders == []
