"""What web's one middleware layer reads and writes without a stack: the session cookie read
as aiohttp's cookie parser reads it, and the headers every answer gets."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from ebok_web.middleware import session_cookie
from ebok_web.rendering import CSP, secure

NAME = "__Host-ebok"


@pytest.mark.parametrize(
    "header",
    [
        "__Host-ebok=abc",
        "__Host-ebok=abc; __Host-ebok=def",  # the last, as aiohttp
        "a=1; __Host-ebok-operator=x; __Host-ebok=y",
        "__Host-ebok-operator=x",  # another cookie whose name starts with ours
        "__HOST-ebok=x",  # names are case-sensitive
        "foo=__Host-ebok",
        "__Host-ebok= abc ",
        "__Host-ebok=a b",
        "__Host-ebok=a=b",
        "__Host-ebok=a%20b",
        "__Host-ebok=",
        '__Host-ebok="quoted"',
        'x="a; __Host-ebok=evil; b"',  # inside another cookie's quoted value: not ours
        'x="a;b"; __Host-ebok=z',
        "__Host-ebok=\\x",
        "",
    ],
)
def test_the_session_cookie_is_read_as_aiohttp_reads_it(header: str) -> None:
    request = make_mocked_request("GET", "/pulpit", headers={"Cookie": header} if header else {})
    # an empty value is no session either way (None or "")
    assert (session_cookie(request, NAME) or None) == (request.cookies.get(NAME) or None)


def test_every_answer_gets_the_security_headers_and_its_caching() -> None:
    page = web.Response(text="x", headers={"Referrer-Policy": "no-referrer"})
    secure(make_mocked_request("GET", "/pulpit"), page)
    assert page.headers["Content-Security-Policy"] == CSP
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert page.headers["Permissions-Policy"].startswith("camera=()")
    assert page.headers["Referrer-Policy"] == "no-referrer"  # a page's own choice stays
    assert page.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in page.headers  # plain http: no HSTS

    asset = web.Response(text="x", headers={"X-Frame-Options": "SAMEORIGIN"})
    secure(make_mocked_request("GET", "/static/ebok.css"), asset)
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert asset.headers.getall("X-Frame-Options") == ["DENY"]  # replaced, not added
    assert asset.headers["Referrer-Policy"] == "same-origin"
