"""Profile: article events in batches -> one ``Profiles`` for the decider and the batch itself.

In: article event dicts. Out: ``(DECIDER, Profiles)`` on the main output and ``(batch id,
Part)`` (the batch, :meth:`Part.batch`) on ``HELD``, both in the global window, stamped with
the batch's ``until``. Profiling
(:func:`wirewatch.core.stories.story_profile`: names, places, numbers of an article) runs here,
in parallel on every worker; only the small profiles travel to the one decider.

``until`` is the end of the tick (of element time) of the latest of the batch's read times,
``max(element timestamp, event_time, fetched_time)``: Normalise stamped each article with the
later of its event time and its read time, Dedupe decided it in that tick and hands it on
stamped with its event time, behind the watermark. Stamped at the end of that tick again, a
batch is on time where Link waits for the watermark, and Link decides in the ticks Dedupe did.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.core.stories import story_profile
from wirewatch.pipelines.link.records import Part, Profiles
from wirewatch.pipelines.metrics import distribution
from wirewatch.schemas.records import dead_letter

__all__ = ["DECIDER", "HELD", "ProfileFn", "problem"]

#: Output tag of the held batches, keyed by batch id.
HELD = "held"
#: The one key every profile is decided under (see the package docstring: Scaling).
DECIDER = "stories"


def problem(event: object) -> str | None:
    """Why ``event`` is not an article event Link can pass on at all, or None."""
    if not isinstance(event, dict):
        return f"not an article event dict: {type(event).__name__}"
    for name, kind in (("event_id", str), ("event_time", int), ("fetched_time", int),
                       ("dedup", dict)):
        if not isinstance(event.get(name), kind):
            return f"field {name!r} missing or not {kind.__name__}"
    return None


def letter(event: object, reason: str, error_type: str) -> dict:
    """A dead letter of the link stage for ``event``."""
    where = event.get("source") if isinstance(event, dict) else None
    return dead_letter(
        "link", reason, error_type, json.dumps(event, default=repr, ensure_ascii=False),
        where if isinstance(where, dict) else {"kind": "rss", "outlet": ""},
        event_id=event.get("event_id") if isinstance(event, dict) else None)


class ProfileFn(beam.DoFn):
    """Buffers a bundle's events (at most ``batch_size``), then profiles them as one batch."""

    def __init__(self, batch_size: int, tick_ms: int) -> None:
        self._batch_size = batch_size
        self._tick_ms = tick_ms

    def start_bundle(self) -> None:
        self._events: list[dict] = []
        self._letters: list[dict] = []
        # The bundle's latest read time so far: a batch cut in mid-bundle still carries the
        # ticks of the batches before it (a Dedupe batch is never split across bundles).
        self._last = 0

    def process(self, event: dict, timestamp=beam.DoFn.TimestampParam) -> Iterator:
        reason = problem(event)
        if reason:
            self._letters.append(letter(event, reason, "InvalidEvent"))
        else:
            self._events.append(event)
            self._last = max(self._last, timestamp.micros // 1000, event["event_time"],
                             event["fetched_time"])
        if len(self._events) + len(self._letters) >= self._batch_size:
            yield from self._flush()

    def finish_bundle(self) -> Iterator:
        yield from self._flush()

    def _flush(self) -> Iterator[WindowedValue]:
        events, letters = self._events, self._letters
        self._events, self._letters = [], []
        if not events and not letters:
            return
        started = time.perf_counter()
        batch = uuid.uuid4().hex
        last = self._last or int(time.time() * 1000)
        until = (last // self._tick_ms + 1) * self._tick_ms - 1
        rows, duplicate_of, profiles, unlinked, reasons = [], [], [], [], []
        for row, event in enumerate(events):
            try:
                profile = story_profile(event)
            except Exception as e:  # a bug or an input nobody foresaw: its own story, noted
                unlinked.append(row)
                reasons.append(f"story profile failed: {e!r}")
                continue
            rows.append(row)
            duplicate_of.append(event["dedup"].get("duplicate_of") or "")
            profiles.append(profile)
        if profiles:
            yield _global((DECIDER, Profiles.of(batch, until, rows, duplicate_of, profiles)),
                          until)
        yield beam.pvalue.TaggedOutput(HELD, _global(
            (batch, Part.batch(until, events, letters, unlinked, reasons)), until))
        if events:
            distribution("link_profile_us_per_article").update(
                int((time.perf_counter() - started) * 1e6 / len(events)))


def _global(value: object, time_ms: int) -> WindowedValue:
    return WindowedValue(value, Timestamp(micros=time_ms * 1000), (GlobalWindow(),))
