"""Clean text from feed HTML, and the content hash that exact deduplication compares."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from html.parser import HTMLParser

__all__ = ["clean_html", "collapse_space", "compared_text", "content_hash", "hash_text"]

# Elements whose text is never article text.
_SKIPPED = frozenset({"script", "style", "noscript", "template", "iframe", "svg", "head"})
# Elements that end a line of text: without a break their words would run together.
_BLOCKS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th",
    "blockquote", "pre", "section", "article", "header", "footer", "figure", "figcaption",
    "table", "hr", "dd", "dt",
})
_INLINE_SPACE_CHARS = " \t\r\f\v\u00a0\u200b"
_INLINE_SPACE = re.compile(f"[{_INLINE_SPACE_CHARS}]+")
_ANY_SPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\s*\n\s*")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIPPED:
            self._skip_depth += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:  # inside HTML a line break in text is just a space
            self.parts.append(_ANY_SPACE.sub(" ", data))


# A start or end tag that html.parser reads as nothing else: a name of letters and digits,
# attributes plain or quoted (no "<" or ">" inside quotes), an optional "/" before ">"; or a
# comment without "--", "<" or ">" inside, which every version of html.parser ends at "-->".
_SIMPLE_TAG = re.compile(r"""
    (?P<comment><!--(?:[^<>-]|-(?!-))*-->)
  | </(?P<end>[a-zA-Z][a-zA-Z0-9]*)\s*>
  | <(?P<start>[a-zA-Z][a-zA-Z0-9]*)
    (?:\s+[^\s"'<>/=]+(?:\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'=<>`]+))?)*\s*/?>
""", re.VERBOSE)
# Elements whose text html.parser reads raw, tags included: their markup takes the parser.
_RAW_TEXT = frozenset({"script", "style"})


def _feed_simple(parser: _TextExtractor, markup: str) -> bool:
    """Give ``parser`` the events html.parser would for ``markup`` made of simple tags and
    text, without running it (it costs ~2.5x more on feed markup); False, having given none,
    for anything else (CDATA, declarations, a stray "<", script and style)."""
    events: list[tuple[str, str]] = []
    at = 0
    while (opens := markup.find("<", at)) >= 0:
        tag = _SIMPLE_TAG.match(markup, opens)
        if tag is None:
            return False
        name = (tag["start"] or tag["end"] or "").lower()
        if name in _RAW_TEXT:
            return False
        if opens > at:
            events.append(("", markup[at:opens]))
        if name:  # a comment is no event, but it ends the text before it
            events.append(("/" if tag["end"] else "//" if tag[0].endswith("/>") else "<", name))
        at = tag.end()
    if at < len(markup):
        events.append(("", markup[at:]))
    for kind, value in events:
        if not kind:  # text, its character references decoded as convert_charrefs does
            parser.handle_data(html.unescape(value))
        elif kind == "<":
            parser.handle_starttag(value, [])
        elif kind == "/":
            parser.handle_endtag(value)
        else:  # <br/>: a start and an end, as HTMLParser.handle_startendtag
            parser.handle_starttag(value, [])
            parser.handle_endtag(value)
    return True


def clean_html(markup: str) -> str:
    """Readable text of an HTML fragment: tags and scripts gone, entities decoded.

    Block elements become line breaks (one ``\\n`` between paragraphs), runs of spaces become one.
    Plain text goes through unchanged apart from white space and Unicode composition: the text
    comes out in NFC, a letter and its accents one character however the feed wrote them (some
    write Yoruba or Vietnamese decomposed, and fastText reads decomposed Yoruba as Russian).
    """
    if not markup:
        return ""
    if "<" in markup:
        parser = _TextExtractor()
        if not _feed_simple(parser, markup):
            parser.feed(markup)
            parser.close()
        text = "".join(parser.parts)
    else:
        text = html.unescape(markup)
    # Most feed text needs neither substitution; a substring test is ~50x cheaper than a regex
    # pass that replaces every single space with itself.
    if "  " in text or any(c in text for c in _INLINE_SPACE_CHARS[1:]):
        text = _INLINE_SPACE.sub(" ", text)
    if "\n" in text:
        text = _BLANK_LINES.sub("\n", text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text.strip()


# The white space str.split() splits on, but for " " and "\n" (all that clean_html leaves).
_OTHER_SPACE = "\t\x0b\x0c\r\x1c\x1d\x1e\x1f"
_OTHER_SPACE_NON_ASCII = (_OTHER_SPACE + "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                          "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def collapse_space(text: str) -> str:
    """``" ".join(text.split())``: white space runs as one space, none at either end.

    Text from :func:`clean_html` has single spaces and line breaks only; for it a few substring
    tests and a replace are ~3x cheaper than splitting a news text into its words.
    """
    line = text.replace("\n", " ")
    if "  " in line or any(c in line for c in (
            _OTHER_SPACE if line.isascii() else _OTHER_SPACE_NON_ASCII)):
        return " ".join(text.split())
    return line.strip(" ")


def hash_text(text: str) -> str:
    """sha256 hex of text after case folding and white space collapsing."""
    return hashlib.sha256(collapse_space(text.casefold()).encode("utf-8")).hexdigest()


def compared_text(title: str, summary: str, body: str) -> str:
    """What dedup compares: the body, or title + summary when there is no body.

    The title is left out when there is a body because wire copies keep the body and change the
    headline.
    """
    return body if body.strip() else f"{title}\n{summary}"


def content_hash(title: str, summary: str, body: str) -> str:
    """The hash exact dedup compares: of :func:`compared_text`."""
    return hash_text(compared_text(title, summary, body))
