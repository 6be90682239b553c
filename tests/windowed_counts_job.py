"""A continuous streaming job for runner tests: ``python -m tests.windowed_counts_job OUT``.

PeriodicImpulse (an unbounded SDF that never ends) ticks every 0.25 s; ticks are counted per
2-second fixed window and each count is appended to OUT as a JSON line with the window's end
and the wall-clock time it was written. Runs until stopped, through ``run_until_stopped`` with
the options ``wirewatch run`` would use, and prints the runner and how it stopped.
"""

from __future__ import annotations

import json
import sys
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms import window
from apache_beam.transforms.periodicsequence import PeriodicImpulse

from wirewatch.pipelines.runners import run_until_stopped, with_provisioned_runners

WINDOW_S = 2.0
TICK_S = 0.25


class _AppendLine(beam.DoFn):
    def __init__(self, path: str) -> None:
        self._path = path

    def process(self, count: int, win=beam.DoFn.WindowParam) -> None:
        with open(self._path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"window_end": float(win.end), "count": count,
                                "written": time.time()}) + "\n")


def main(argv: list[str]) -> int:
    out, beam_args = argv[0], argv[1:]
    options = with_provisioned_runners(PipelineOptions(["--streaming", *beam_args]))
    print(f"runner={options.view_as(StandardOptions).runner}", flush=True)
    pipeline = beam.Pipeline(options=options)
    now = time.time()
    _ = (pipeline
         | "Ticks" >> PeriodicImpulse(start_timestamp=now, stop_timestamp=now + 24 * 3600,
                                      fire_interval=TICK_S)
         | "Windows" >> beam.WindowInto(window.FixedWindows(WINDOW_S))
         | "Count" >> beam.combiners.Count.Globally().without_defaults()
         | "Append" >> beam.ParDo(_AppendLine(out)))
    outcome = run_until_stopped(pipeline)
    print(f"stopped_by={outcome.stopped_by} state={outcome.state}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
