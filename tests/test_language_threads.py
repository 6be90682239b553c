"""Language detection gives the same answer from many threads as from one.

Prism, Flink and Dataflow run bundles on several threads of one worker process; langdetect's
global state made concurrent calls answer 'pl' or 'fi' for Italian.
"""

from __future__ import annotations

import subprocess
import sys

# A fresh interpreter: the race is in langdetect's first, lazy load of its profiles.
_SCRIPT = """
from concurrent.futures import ThreadPoolExecutor
from wirewatch.core.language import detect_langdetect
texts = [
    "Il lago raggiunge il livello più basso degli ultimi vent'anni, dicono i tecnici",
    "El Gobierno aprueba un plan de regadío contra la sequía en las provincias del sur",
    "Le gouvernement présente un plan pour les hôpitaux de province et les médecins",
] * 4
with ThreadPoolExecutor(len(texts)) as pool:
    print(" ".join(g.code for g in pool.map(detect_langdetect, texts)))
"""


def test_concurrent_first_calls_agree_with_serial_ones():
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["it", "es", "fr"] * 4
