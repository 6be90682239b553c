"""Ticks: the 1 s windows of element time in which Dedupe and Link wait for the watermark.

A stream's batches are grouped per tick by the runner's GroupByKeys, which hold a tick's pane
until the watermark has passed it; that is how both steps decide in event-time order without
user timers (on Prism those lost batches under load; see ``pipelines/dedupe/``).
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.transforms.trigger import AccumulationMode, AfterCount, AfterWatermark
from apache_beam.transforms.window import FixedWindows
from apache_beam.utils.timestamp import Duration

__all__ = ["TICK_MS", "ticks"]

#: Batches are decided per tick of element time, once the watermark has passed the tick.
TICK_MS = 1000
#: Late elements are never dropped (an article arriving days late is still decided and written).
_FOREVER = Duration(seconds=10 * 365 * 24 * 3600)


def ticks() -> beam.WindowInto:
    """Windows of one tick whose pane fires once the watermark has passed it, then once more
    for each late element; late elements are never dropped."""
    return beam.WindowInto(FixedWindows(TICK_MS / 1000),
                           trigger=AfterWatermark(late=AfterCount(1)),
                           accumulation_mode=AccumulationMode.DISCARDING,
                           allowed_lateness=_FOREVER)
