"""Stable event ids: the same article gets the same id on every run and every runner."""

from __future__ import annotations

import hashlib

__all__ = ["event_id"]


def event_id(outlet: str, identity: str) -> str:
    """32 hex chars of sha256 over the outlet and the article's identity.

    ``identity`` is the source's own id for the article (feed guid, Kafka key), else its
    canonical URL. The outlet is part of it because two outlets may reuse a
    guid; the same URL carried by two outlets is caught by deduplication instead.
    """
    digest = hashlib.sha256(f"{outlet}\x1f{identity}".encode())
    return digest.hexdigest()[:32]
