import pytest

from wirewatch.core.urls import InvalidUrl, canonical_url


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTPS://Example.COM:443/a/b?x=1#frag", "https://example.com/a/b?x=1"),
    ("http://example.com:80", "http://example.com/"),
    ("http://example.com:8080/p", "http://example.com:8080/p"),
    ("https://example.com/p?utm_source=rss&utm_medium=feed&id=7", "https://example.com/p?id=7"),
    ("https://example.com/p?fbclid=abc&gclid=x&b=2&a=1", "https://example.com/p?a=1&b=2"),
    ("https://example.com/p?UTM_Campaign=x", "https://example.com/p"),
    ("https://example.com/a/./b/../c/", "https://example.com/a/c/"),
    ("  https://example.com/with space  ", "https://example.com/withspace"),
    ("https://example.com./p", "https://example.com/p"),
    ("https://example.com/p?empty=&q=1", "https://example.com/p?empty=&q=1"),
    ("https://user:pw@example.com/p", "https://user:pw@example.com/p"),
    ("http://[::1]:80/x", "http://[::1]/x"),
])
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent():
    once = canonical_url("HTTPS://NordicWire.example:443/x/../y?utm_campaign=m&b=1&a=2#c")
    assert canonical_url(once) == once


@pytest.mark.parametrize("url", [
    "", "javascript:void(0)", "tag:example.com,2026:1", "/relative/path", "ftp://example.com/x",
    "https://example.com:notaport/", "mailto:a@example.com",
])
def test_not_an_http_url_is_rejected(url):
    with pytest.raises(InvalidUrl):
        canonical_url(url)


@pytest.mark.parametrize("url", [
    "https://example.com", "http://example.com/", "https://a.b-c.example/2026/12/06/story-1.html",
    "https://example.com/a//b", "https://example.com/%E2%82%AC/x;y=1,z", "https://example.com/a:b@c",
    "https://example.com/~user/!$&'()*+=", "https://example.com/a/.hidden", "https://example.com/a/..",
    "https://Example.com/p", "HTTPS://example.com/p", "https://example.com./p", "https://e.com:443/",
    "https://e.com/p?q=1", "https://e.com/p#f", "https://u@e.com/p", "https://e_x.com/p",
    "https://e.com/ü", "https://e.com/a b", " https://e.com/p", "https://e..com/p", "https://-e.com/",
    "http://127.0.0.1/x", "https://e.com/p\t", "https://xn--bcher-kva.example/p",
])
def test_canonical_url_fast_path_gives_what_parsing_gives(url):
    from wirewatch.core.urls import _parsed

    try:
        expected = _parsed(url)
    except InvalidUrl:
        with pytest.raises(InvalidUrl):
            canonical_url(url)
    else:
        assert canonical_url(url) == expected
