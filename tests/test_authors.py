"""Author strings as feeds write them: names kept, addresses dropped, any top-level domain."""

import pytest

from wirewatch.core.authors import author_name, author_names


@pytest.mark.parametrize(("raw", "name"), [
    # RSS 2.0's own form, with top-level domains feedparser's pattern (2-4 letters) cuts
    ("redaktion@abendpost.example (Petra Schäfer)", "Petra Schäfer"),
    ("desk@wire.online (Anna Lindqvist)", "Anna Lindqvist"),
    ("newsroom@city.news (Jonas Berg)", "Jonas Berg"),
    ("a@b.de (Kurz)", "Kurz"),
    ("mailto:desk@wire.online (Anna Lindqvist)", "Anna Lindqvist"),
    # the mail header form, and a name with the address in parentheses
    ("Petra Schäfer <redaktion@abendpost.example>", "Petra Schäfer"),
    ('"Doe, Jane" <jane@wire.online>', "Doe, Jane"),
    ("Max Muster (max@muster.news)", "Max Muster"),
    ("Max Muster <>", "Max Muster"),
    # bare names stay whole, parentheses without an address included
    ("Anna Lindqvist", "Anna Lindqvist"),
    ("Jane Doe (Reuters)", "Jane Doe (Reuters)"),
    ("(Claire Dubois)", "Claire Dubois"),
    ("  Marc \n Lefèvre ", "Marc Lefèvre"),
])
def test_the_name_is_kept(raw, name):
    assert author_name(raw) == name


@pytest.mark.parametrize("raw", [
    "redaktion@abendpost.example", "desk@wire.online", "<newsroom@city.news>",
    "mailto:desk@wire.news", "", "   ", None, "<>", "()",
])
def test_an_address_alone_or_nothing_gives_no_name(raw):
    assert author_name(raw) is None


def test_several_authors_in_order_each_once_addresses_dropped():
    assert author_names(["Anna Berg", "desk@wire.news", "jonas@wire.online (Jonas Lind)",
                         "Anna Berg <anna@wire.news>", None]) == ["Anna Berg", "Jonas Lind"]
