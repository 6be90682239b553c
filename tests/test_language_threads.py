"""Language detection gives the same answers from many threads at once as from one.

Prism, Flink and Dataflow run bundles on several threads of one worker process, each thread
with its own DoFn instance and so its own detector; langdetect's global state once made
concurrent calls answer 'pl' or 'fi' for Italian.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# A fresh interpreter per backend: the races are in first, lazy loads of profiles and models.
_SCRIPT = """
import sys
from concurrent.futures import ThreadPoolExecutor
from wirewatch.core.language import make_detector
texts = [
    "Il lago raggiunge il livello più basso degli ultimi vent'anni, dicono i tecnici",
    "El Gobierno aprueba un plan de regadío contra la sequía en las provincias del sur",
    "Le gouvernement présente un plan pour les hôpitaux de province et les médecins",
] * 4
detectors = [make_detector(sys.argv[1]) for _ in texts]  # one per thread, as DoFns have
with ThreadPoolExecutor(len(texts)) as pool:
    guesses = pool.map(lambda dt: dt[0].detect_batch([dt[1]])[0], zip(detectors, texts))
    print(" ".join(g.code for g in guesses))
"""


@pytest.mark.parametrize("backend", ["langdetect", "cascade"])
def test_concurrent_first_calls_agree_with_serial_ones(backend):
    out = subprocess.run([sys.executable, "-c", _SCRIPT, backend], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["it", "es", "fr"] * 4
