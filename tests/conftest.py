"""Shared test setup: helpers in this folder import as plain modules (``feedserver``)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
