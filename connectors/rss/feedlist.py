"""The list of feeds to read, from a YAML file, validated before the pipeline starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["FeedListError", "FeedSpec", "load_feed_list"]


class FeedListError(ValueError):
    """The feed list cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class FeedSpec:
    """One feed: where it is, whose it is, and optional hints.

    ``path`` is a local file holding the feed (backfills, tests, the bundled samples); when it is
    set the feed is read from disk instead of fetched from ``url``.
    """

    url: str
    outlet: str
    language: str | None = None
    interval_s: float | None = None
    path: str | None = None


_FIELDS = {"url", "outlet", "language", "interval", "path"}


def load_feed_list(path: str | Path) -> list[FeedSpec]:
    """Read and check a YAML feed list.

    Format: a mapping with a ``feeds`` list; each entry has ``url`` and ``outlet`` and may have
    ``language`` (BCP-47 hint), ``interval`` (seconds between polls) and ``path`` (a feed file,
    relative to the list's folder).
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise FeedListError(f"cannot read feed list {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise FeedListError(f"{path} is not valid YAML: {e}") from None
    entries = doc.get("feeds") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise FeedListError(f"{path}: expected a mapping with a non-empty 'feeds' list")

    feeds, seen = [], set()
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: feeds entry {n}"
        if not isinstance(entry, dict):
            raise FeedListError(f"{where}: expected a mapping with url and outlet")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise FeedListError(f"{where}: unknown field(s) {sorted(unknown)}; "
                                f"allowed: {sorted(_FIELDS)}")
        url, outlet = entry.get("url"), entry.get("outlet")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise FeedListError(f"{where}: 'url' must be an http(s) URL, got {url!r}")
        if not isinstance(outlet, str) or not outlet.strip():
            raise FeedListError(f"{where}: 'outlet' is required")
        if url in seen:
            raise FeedListError(f"{where}: feed {url} is listed twice")
        seen.add(url)
        interval = entry.get("interval")
        if interval is not None and (not isinstance(interval, (int, float)) or interval <= 0):
            raise FeedListError(f"{where}: 'interval' must be a positive number of seconds")
        file = entry.get("path")
        if file is not None:
            file = str((path.parent / file).resolve())
            if not Path(file).is_file():
                raise FeedListError(f"{where}: feed file {file} does not exist")
        feeds.append(FeedSpec(url=url, outlet=outlet.strip(), language=entry.get("language"),
                              interval_s=interval, path=file))
    return feeds
