"""The list of feeds to read, from YAML or OPML, validated before the pipeline starts.

A bad entry is an operator's typo, so the whole file is checked before anything is polled and
every problem is reported at once, each naming its line (and entry number for YAML).

YAML::

    feeds:
      - url: https://example.org/rss.xml
        outlet: Example News
        language: en        # optional hint for language tagging
        interval: 15m       # optional: seconds, or a number with s/m/h/d
        path: saved/x.xml   # optional: read this file (relative to the list) instead of polling

OPML: every ``<outline>`` with an ``xmlUrl``; the outlet is its ``title`` or ``text``, the
language its ``language`` attribute and the interval its ``interval`` attribute (not standard
OPML, but the extra attribute is harmless to other readers).
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = ["FeedListError", "FeedSpec", "load_feed_list", "parse_interval", "parse_opml",
           "parse_yaml"]

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_YAML_KEYS = {"url", "outlet", "language", "interval", "path"}


@dataclass(frozen=True)
class FeedSpec:
    """One feed: where it is, whose it is, and optional hints.

    ``interval_s`` is the operator's preferred poll interval (None: the schedule's default).
    ``path`` is a local file holding the feed (backfills, tests, the bundled samples); when it is
    set the feed is read from disk instead of fetched from ``url``.
    """

    url: str
    outlet: str
    language: str | None = None
    interval_s: float | None = None
    path: str | None = None


class FeedListError(ValueError):
    """The feed list is unusable; ``problems`` holds one message per bad entry."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s) in the feed list:\n  "
                         + "\n  ".join(problems))


def parse_interval(value: Any) -> float:
    """Seconds from ``600``, ``"90s"``, ``"15m"``, ``"1.5h"`` or ``"1d"``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"'interval' must be a positive number of seconds, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("'interval' must be a positive number of seconds or a duration "
                             f"like 90s, 15m, 2h; got {value!r}")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"'interval' must be a positive number of seconds, got {value!r}")
    return seconds


def _check_entry(where: str, fields: dict[str, Any],
                 folder: Path | None = None) -> tuple[FeedSpec | None, list[str]]:
    problems = []
    url = str(fields.get("url") or "").strip()
    parts = urlsplit(url)
    if not url:
        problems.append(f"{where}: 'url' is required")
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{where}: 'url' must be an http(s) URL, got {url!r}")
    outlet = str(fields.get("outlet") or "").strip()
    if not outlet:
        problems.append(f"{where}: 'outlet' is required")
    language = fields.get("language")
    if language is not None:
        language = str(language).strip()
        if not _LANGUAGE.match(language):
            problems.append(f"{where}: 'language' must be a tag like en or pt-BR, "
                            f"got {language!r}")
    interval_s = None
    if fields.get("interval") is not None:
        try:
            interval_s = parse_interval(fields["interval"])
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    file = fields.get("path")
    if file is not None:
        file = str(((folder or Path.cwd()) / str(file)).resolve())
        if not Path(file).is_file():
            problems.append(f"{where}: feed file {file} does not exist")
    if problems:
        return None, problems
    return FeedSpec(url=url, outlet=outlet, language=language or None, interval_s=interval_s,
                    path=file), []


def _finish(source: str, entries: list[tuple[str, FeedSpec | None]],
            problems: list[str]) -> list[FeedSpec]:
    first_seen: dict[str, str] = {}
    feeds = []
    for where, feed in entries:
        if feed is None:
            continue
        if feed.url in first_seen:
            problems.append(f"{where}: feed {feed.url} is listed twice "
                            f"(first at {first_seen[feed.url]})")
            continue
        first_seen[feed.url] = where
        feeds.append(feed)
    if problems:
        raise FeedListError(source, problems)
    if not feeds:
        raise FeedListError(source, ["expected a mapping with a non-empty 'feeds' list"])
    return feeds


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loader that remembers the line each mapping starts on."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def parse_yaml(text: str, source: str = "<yaml>", folder: Path | None = None) -> list[FeedSpec]:
    """Feeds from YAML text: a ``feeds:`` list (or a bare list) of mappings.

    ``path`` entries are resolved against ``folder`` (default: the working directory).
    """
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise FeedListError(source, [f"not valid YAML: {exc}"]) from exc
    if isinstance(doc, dict):
        doc = doc.get("feeds")
    if not isinstance(doc, list):
        raise FeedListError(source, ["expected a mapping with a non-empty 'feeds' list"])
    entries, problems = [], []
    for number, item in enumerate(doc, start=1):
        if not isinstance(item, dict):
            problems.append(f"feeds entry {number}: expected a mapping with url and outlet, "
                            f"got {item!r}")
            continue
        where = f"feeds entry {number} (line {item.pop('__line__')})"
        unknown = sorted(set(item) - _YAML_KEYS)
        if unknown:
            problems.append(f"{where}: unknown field(s) {unknown}; allowed: {sorted(_YAML_KEYS)}")
        feed, entry_problems = _check_entry(where, item, folder)
        problems.extend(entry_problems)
        entries.append((where, feed))
    return _finish(source, entries, problems)


def parse_opml(data: bytes, source: str = "<opml>") -> list[FeedSpec]:
    """Feeds from OPML bytes: every ``<outline xmlUrl=...>``, nested or not."""
    parser = xml.parsers.expat.ParserCreate()
    found: list[tuple[int, dict[str, str]]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == "outline" and "xmlUrl" in attrs:
            found.append((parser.CurrentLineNumber, attrs))

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise FeedListError(source, [f"not valid OPML/XML: {exc}"]) from exc
    entries, problems = [], []
    for line, attrs in found:
        where = f"outline at line {line}"
        fields = {
            "url": attrs.get("xmlUrl"),
            "outlet": attrs.get("title") or attrs.get("text"),
            "language": attrs.get("language"),
            "interval": attrs.get("interval"),
        }
        feed, entry_problems = _check_entry(where, fields)
        problems.extend(entry_problems)
        entries.append((where, feed))
    return _finish(source, entries, problems)


def load_feed_list(path: str | Path) -> list[FeedSpec]:
    """Feeds from a ``.yaml``/``.yml`` or ``.opml``/``.xml`` file; FeedListError if any is bad."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".opml", ".xml", ".yaml", ".yml"):
        raise FeedListError(str(path), ["unknown feed list format: use .yaml, .yml, .opml or .xml"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FeedListError(str(path), [f"cannot read feed list {path}: {exc.strerror}"]) from None
    if suffix in (".opml", ".xml"):
        return parse_opml(data, str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FeedListError(str(path), [f"not UTF-8: {exc}"]) from None
    return parse_yaml(text, str(path), path.parent)
