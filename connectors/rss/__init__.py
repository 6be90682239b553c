"""RSS/Atom feeds: the feed list, parsing feed bytes into ``RawArticle``, and Beam sources."""
