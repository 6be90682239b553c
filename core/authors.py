"""Author names from the author strings feeds carry: names kept, e-mail addresses dropped.

Feeds write an author in one of a few forms: RSS 2.0's ``email (Name)``, the mail header form
``Name <email>``, ``Name (email)``, a bare ``Name`` (``dc:creator``, Atom's ``<name>``) or a bare
``email``. feedparser splits these with an e-mail pattern that only knows top-level domains of
2-4 letters, so ``redaktion@abendpost.example (Petra Schäfer)`` came out as
``ple (Petra Schäfer``; here an address is any ``local@domain.tld``, whatever the TLD's length.

Only names are kept: an address is contact data, not a byline, and records should not spread
it. An author string that is nothing but an address gives no name (:func:`author_name` returns
``None``) and is dropped, rather than kept as an address or as its local part.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["author_name", "author_names"]

# local@domain.tld, optionally as a mailto: link; no length limit on any label.
_EMAIL = re.compile(r"(?:mailto:)?[^\s@<>()\[\]\"',;]+@[^\s@<>()\[\]\"',;]+\.[^\s@<>()\[\]\"',;.]+",
                    re.IGNORECASE)
_ANGLE = re.compile(r"^(?P<outer>[^<>]*)<(?P<inner>[^<>]*)>(?P<rest>[^<>]*)$")
_PARENS = re.compile(r"^(?P<outer>[^()]*)\((?P<inner>[^()]*)\)(?P<rest>[^()]*)$")
_SPACE = re.compile(r"\s+")
# Left over around a name once an address is cut out: "Name, <>", "- Name", quotes.
_EDGE = " \t\"'`,;:-–—|/"


def _is_email(text: str) -> bool:
    return bool(_EMAIL.fullmatch(text.strip()))


def _tidy(text: str) -> str | None:
    """``text`` without addresses, extra white space or stray punctuation; None if nothing is
    left."""
    text = _SPACE.sub(" ", _EMAIL.sub(" ", text)).strip(_EDGE)
    return text or None


def author_name(raw: str | None) -> str | None:
    """The person's name in one author string, or ``None`` when it holds none.

    ``email (Name)``, ``Name (email)`` and ``Name <email>`` give ``Name``; a bare name is kept as
    it is (``Jane Doe (Reuters)``, with no address in it, stays whole); a bare address, or
    nothing, gives ``None``. One string is one author: a comma is not a separator
    (``Doe, Jane``), several authors come as several strings (:func:`author_names`).
    """
    if not raw:
        return None
    text = _SPACE.sub(" ", raw).strip()
    for form in (_ANGLE, _PARENS):
        match = form.match(text)
        if not match:
            continue
        outer = f"{match['outer']} {match['rest']}"
        inner = match["inner"]
        if _is_email(inner) or not inner.strip():  # Name <email>, Name (email)
            return _tidy(outer)
        if _is_email(outer) or not outer.strip(_EDGE):  # email (Name), RSS 2.0's form; (Name)
            return _tidy(inner)
    return _tidy(text)


def author_names(raws: Iterable[str | None]) -> list[str]:
    """The names in ``raws`` (one author string each), in order, each once."""
    return list(dict.fromkeys(name for name in map(author_name, raws) if name))
