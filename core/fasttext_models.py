"""The fastText models shipped in ``core/data/``, each loaded once per process (no Beam import).

    shipped_model("lid.176.ftz").predict("Hello world", k=3)

The run-time package is fasttext-predict: it loads and predicts only (training needs the full
``fasttext``, see ``benchmarks/train_topics.py``).
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

__all__ = ["shipped_model"]


@functools.cache
def shipped_model(name: str) -> Any:
    """The model ``core/data/<name>``, loaded on first use and shared by every caller after."""
    import fasttext  # imported here: a worker that never tags pays nothing for it

    path = importlib.resources.files("wirewatch.core") / "data" / name
    with importlib.resources.as_file(path) as model_path:
        return fasttext.load_model(str(model_path))
