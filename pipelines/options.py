"""wirewatch's pipeline options, in Beam's ``PipelineOptions`` manner.

Every Beam option (``--runner``, ``--streaming``, ``--flink_master``, ``--project`` ...) is
accepted as well; these are ours.
"""

from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions

from wirewatch import __version__

__all__ = ["WirewatchOptions"]


class WirewatchOptions(PipelineOptions):
    """Options of the wirewatch ingest pipeline."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("wirewatch input")
        group.add_argument(
            "--feeds",
            help="YAML feed list (url, outlet, optional language, interval, path). Entries with "
                 "a 'path' are read from that file; e.g. samples/feeds.yaml.")
        group.add_argument(
            "--fetched_at_ms", type=int, default=None,
            help="Fetch time to stamp on articles read from feed files, in epoch millis "
                 "(default: now). Pin it to make reruns byte-identical.")
        group.add_argument(
            "--feed_user_agent", default=f"wirewatch/{__version__} (news feed reader)",
            help="User-Agent sent when fetching feeds over HTTP.")
        group = parser.add_argument_group("wirewatch output")
        group.add_argument(
            "--output",
            help="Folder for Avro output: article events in <output>/article_events/, dead "
                 "letters in <output>/dead_letters/, one health record per feed poll in "
                 "<output>/feed_healths/. Created if missing.")
