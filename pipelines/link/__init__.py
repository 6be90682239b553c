"""Link: puts every article in a story, one ``story_id`` for all reports of one real event,
across outlets and languages, decided in event time.

Input: article event dicts (``schemas/article_event.avsc`` shape) after Dedupe and Tag, in the
global window. Output (:class:`Linked`): ``events``, the same dicts with ``story`` filled
(``story_id``: the event_id of the story's first article, earliest by event time, then
smallest id; ``linked_by``: first | names | duplicate | capped; ``similarity``), timestamped
with their event time; ``dead_letters`` (stage ``link``): input that is not an article event,
and articles that could not be profiled or linked, which also go on, each as its own story,
with a note.

The sentence is ``profile | decide in order | join``, one module each:

1. **Profile** (``profile.py``) a bundle's events as one batch, in parallel on every worker:
   :func:`wirewatch.core.stories.story_profile` (names, places, numbers). The small profiles
   go to the decider; the articles wait for their verdicts, keyed by batch.
2. **Decide in order** (``decide.py``): one :class:`wirewatch.core.stories.StoryLinker` links
   the profiles in (event time, event_id) order; a duplicate joins its original's story, and
   an article delivered again (the same event_id: streaming input is at least once) gets its
   first verdict and is counted once.
   Stories whose last article is older than the horizon are forgotten, so state is bounded by
   the horizon. Bounded input is decided once, at its end; a stream in ticks of 1 s of element
   time, each once the watermark has passed it (the runner's GroupByKey waits, as in Dedupe).
3. **Join** (``join.py``) per batch, after a GroupByKey: each article with its story. The
   articles cross that GroupByKey pickled once per batch into a bytes field of the one record
   kind both parts share (``records.py``), and a stream's batch leaves its tick window before
   the join, not each article after it: Beam's part of the step is per batch wherever it can
   be.

Scaling: **what is expensive is sharded; the decision is one cheap, strictly ordered key.**
Profiling (tokens, transliteration, skeletons: ~26 us an article of the team's story set,
~100-200 us on 3,000-character articles with new words) and the join run on every
worker; only the profiles (~120 bytes an article) travel to the decider, one element per batch.
The decider is one key because a story is not a partition of the input: any two articles in
the horizon may share it through any of their names (A and B through "Hasakah", B and C through
"SDF"), so under any partition of articles by a name, language or outlet a story spans shards,
and its id and members would depend on how the shards' stories are merged. Scoring the
candidates is not sharded either: it needs the state after every earlier decision (in-stream
rarity of names, the stories' key counts), so a sharded scorer would need a round trip per
article inside a tick, and a Beam stream has no loop for it. So the decider is kept cheap
instead: the postings carry each key's count (scoring reads no story until the candidates are
summed), work per article is bounded by ``POSTINGS`` and ``MAX_KEYS``, and a redelivered
article costs one lookup. Its limit, measured in ``benchmarks/bench_link.py``: one core decides
~5,000-6,900 articles/s with ~50,000 live stories (the issue's target is 3,000/s) and
~42,000/s on the team's story set; that is the step's ceiling on any number of Flink
workers. Past it, run one job per partition whose stories never meet (separate desks or
regions), which is the user's choice and is not built here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.pipelines.dedupe.records import RecordCoder
from wirewatch.pipelines.link.decide import DecideAll, DecideInOrder, LinkerSettings
from wirewatch.pipelines.link.join import INCOMPLETE_NOTE, JoinFn
from wirewatch.pipelines.link.profile import HELD, ProfileFn
from wirewatch.pipelines.link.records import Part, Profiles
from wirewatch.pipelines.ticks import TICK_MS, ticks

__all__ = ["INCOMPLETE_NOTE", "Link", "Linked"]

for _record in (Part, Profiles):
    beam.coders.registry.register_coder(_record, RecordCoder)


class Linked(NamedTuple):
    """What :class:`Link` returns."""

    events: beam.PCollection
    dead_letters: beam.PCollection


class Link(beam.PTransform):
    """Article events in; the same events with ``story`` filled out (see the module docstring).

    ``horizon``: how long (event time) a story stays open after its last article; state is
    bounded by it. ``threshold``: the similarity in (0, 1] an article needs to join a story by
    names. ``max_size``: articles a story takes at most (a live blog is capped: the next
    article opens a successor, with a note). Unset: the linker's defaults
    (:data:`~wirewatch.pipelines.link.decide.DEFAULTS`). ``batch_size``: most events profiled
    as one batch.
    """

    def __init__(self, horizon: timedelta | None = None, *, threshold: float | None = None,
                 max_size: int | None = None, batch_size: int = 1000) -> None:
        super().__init__()
        given = {"horizon_ms": None if horizon is None else horizon // timedelta(milliseconds=1),
                 "threshold": threshold, "max_size": max_size}
        self._settings = LinkerSettings(**{k: v for k, v in given.items() if v is not None})
        self._settings.linker()  # the linker checks them: fail here, not on a worker
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self._batch_size = batch_size

    def expand(self, events: beam.PCollection) -> Linked:
        if not events.windowing.is_default():
            raise ValueError("Link decides over the whole stream: give it events in the "
                             "global window (window them after it)")
        profiled = (events
                    | "Profile" >> beam.ParDo(ProfileFn(self._batch_size, TICK_MS))
                    .with_output_types(tuple[str, Profiles], held=tuple[str, Part])
                    .with_outputs(HELD, main="profiles"))
        if events.is_bounded:
            # Bounded input is decided once, at its end, without the windows a stream needs.
            verdicts = (profiled.profiles
                        | "AllProfiles" >> beam.GroupByKey()
                        | "DecideInOrder" >> beam.ParDo(DecideAll(self._settings))
                        .with_output_types(tuple[str, Part]))
            groups = ((profiled[HELD], verdicts) | "Together" >> beam.Flatten()
                      | "JoinGroups" >> beam.GroupByKey())
        else:
            # The runner holds each tick's profiles until the watermark has passed it; a late
            # profile gets a pane of its own (nothing is ever dropped as late).
            verdicts = (profiled.profiles
                        | "Ticks" >> ticks()
                        | "TickProfiles" >> beam.GroupByKey()
                        | "Decided" >> beam.WindowInto(GlobalWindows())
                        | "DecideInOrder" >> beam.ParDo(DecideInOrder(self._settings))
                        .with_output_types(tuple[str, Part]))
            # Each batch (one element) leaves its tick for the global window before the join,
            # rather than each of its articles after it.
            groups = ((profiled[HELD], verdicts) | "Together" >> beam.Flatten()
                      | "BatchTicks" >> ticks()
                      | "JoinGroups" >> beam.GroupByKey()
                      | "Joined" >> beam.WindowInto(GlobalWindows()))
        joined = (groups
                  | "Join" >> beam.ParDo(JoinFn()).with_outputs(DEAD_LETTERS, main="events"))
        return Linked(joined.events, joined[DEAD_LETTERS])
