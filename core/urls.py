"""Canonical URLs: one spelling per article, so that the same link from two feeds compares equal."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["TRACKING_PARAMETERS", "InvalidUrl", "canonical_url"]

#: Query parameters that say how a reader arrived, not what they read. Prefix match for ``utm_``.
TRACKING_PARAMETERS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
    "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "ocid", "cmpid", "ncid", "sr_share",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SPACES = re.compile(r"\s+")


class InvalidUrl(ValueError):
    """The text is not an absolute http(s) URL."""


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in TRACKING_PARAMETERS


# A URL that is canonical already: lower-case http(s) scheme and host (no trailing dot), no
# port, user, query or fragment, a path of plain characters (and no dot segment: no "/.").
# Most article links are; for them the parse and rebuild below (~4x the cost) give the text back.
_CANONICAL = re.compile(
    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?P<path>/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?")


def canonical_url(url: str) -> str:
    """The canonical form of an absolute http(s) URL.

    Lower-case scheme and host, default port dropped, dot segments resolved, empty path as ``/``,
    fragment dropped, tracking parameters (``utm_*``, ``fbclid``, ...) dropped and the remaining
    query parameters sorted (stable, so repeated keys keep their order). Raises
    :class:`InvalidUrl` for anything that is not an absolute http(s) URL.
    """
    if (plain := _CANONICAL.fullmatch(url or "")) and "/." not in url:
        return url if plain["path"] else url + "/"
    return _parsed(url)


def _parsed(url: str) -> str:
    """:func:`canonical_url` the long way: parsed, each part canonicalised, put together."""
    text = _SPACES.sub("", url or "")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:  # e.g. a port that is not a number
        raise InvalidUrl(f"not a valid URL: {url!r} ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidUrl(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{netloc}"
    path = parts.path or "/"
    if "/." in path:
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        path = "/" + path.lstrip("/")
        if trailing and not path.endswith("/"):
            path += "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _is_tracking(k)]
    query.sort(key=lambda kv: kv[0])
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=False), ""))
