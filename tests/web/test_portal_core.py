"""The portal's frame: sessions kept on the server behind a __Host- cookie, CSRF, headers,
error pages, signing in and out, a session the gateway no longer accepts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tests.e2e.client import Api
from tests.e2e.stack import Stack

from .browser import shared_stack  # noqa: F401  (fixture "stack": tests/web's shared one)
from .customers import ready_customer, sign_in
from .portal import Portal, one


async def test_home_is_a_polish_sign_in_page_with_safe_headers(portal: Portal) -> None:
    page = await portal.get("/")
    assert page.status == 200, page
    assert one(page.soup, "html")["lang"] == "pl"
    assert page.title == "Logowanie – e-BOK MPWiK"
    assert "Zaloguj się do e-BOK" in page.h1
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "aiohttp" not in page.headers.get("Server", "").lower()
    assert not page.soup.select("script:not([src])"), "inline script"
    assert not page.soup.select("[style]"), "inline style"
    for asset in page.soup.select("script[src], link[rel=stylesheet]"):
        address = asset.get("src") or asset.get("href")
        assert str(address).startswith("/static/"), address  # nothing from a third party
        loaded = await portal.get(str(address))
        assert loaded.status == 200, address
        assert "immutable" in loaded.headers["Cache-Control"]


async def test_session_cookie_is_opaque_host_only_secure_httponly_lax(portal: Portal) -> None:
    page = await portal.get("/")
    cookie = page.headers.get("Set-Cookie", "")
    assert cookie.startswith("__Host-ebok="), cookie
    lowered = cookie.lower()
    for attribute in ("secure", "httponly", "samesite=lax", "path=/"):
        assert attribute in lowered, cookie
    assert "domain=" not in lowered, cookie


async def test_customer_signs_in_and_out_and_the_gateway_session_ends(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    before = {c.key: c.value for c in portal.http.cookie_jar}
    page = await sign_in(portal, customer.client_number)
    assert page.path == "/pulpit", page
    after = {c.key: c.value for c in portal.http.cookie_jar}
    assert after["__Host-ebok"] != before.get("__Host-ebok"), "a new session id at sign-in"
    assert "access_token" not in page.html and "Bearer" not in page.html
    assert f"Klient nr {customer.client_number}" in page.html

    signed_out = await portal.submit(page, action="/wyloguj")
    assert signed_out.path == "/", signed_out
    assert "Wylogowano" in signed_out.text
    again = await portal.get("/pulpit")
    assert again.path == "/logowanie", again  # signed out: the page asks to sign in


async def test_wrong_password_shows_the_error_summary_and_keeps_the_login(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    page = await sign_in(portal, customer.client_number, "Nie-To-Haslo-1")
    assert page.status == 422, page
    assert page.error_summary(), page
    form = page.form("/logowanie")
    assert one(form, "input[name=login]")["value"] == customer.client_number
    assert not one(form, "input[name=password]").get("value")

    empty = await portal.submit(page, {"login": "", "password": ""}, action="/logowanie")
    assert empty.field_error("login") == "Wpisz numer klienta.", empty
    assert empty.field_error("password") == "Wpisz hasło.", empty
    summary_links = [a["href"] for a in empty.soup.select(".error-summary a")]
    assert summary_links == ["#login", "#password"]


async def test_a_form_without_its_token_or_from_another_site_is_refused(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    page = await portal.get("/logowanie")
    no_token = await portal.post(
        "/logowanie", {"login": customer.client_number, "password": "Zielona-Kropla-2026"}
    )
    assert no_token.status == 403 and "Formularz wygasł" in no_token.h1, no_token
    token = one(page.form("/logowanie"), "input[name=csrf]")["value"]
    foreign = await portal.post(
        "/logowanie",
        {"csrf": token, "login": customer.client_number, "password": "Zielona-Kropla-2026"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert foreign.status == 403, foreign
    good = await portal.submit(
        page, {"login": customer.client_number, "password": "Zielona-Kropla-2026"}
    )
    assert good.path == "/pulpit", good


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header of the answer whatever the case of its name (HTTP's names are not cased)."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


async def test_unknown_page_is_a_polish_404(portal: Portal) -> None:
    page = await portal.get("/nie-ma-takiej-strony")
    assert page.status == 404
    assert page.h1 == "Nie znaleziono strony"
    assert page.headers["Content-Type"].startswith("text/html")
    assert _header(page.headers, "X-Correlation-Id")
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


async def test_a_redirect_carries_the_correlation_id_and_the_headers_of_every_answer(
    portal: Portal,
) -> None:
    page = await portal.get("/pulpit", allow_redirects=False, headers={"X-Correlation-Id": "r-1"})
    assert page.status == 303, page
    assert page.headers["Location"].startswith("/logowanie?next=")
    assert _header(page.headers, "X-Correlation-Id") == "r-1"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


async def test_health_of_web(stack: Stack, portal: Portal) -> None:
    page = await portal.get("/health/ready")
    assert page.status == 200, page
    assert b'"gateway": "ok"' in page.body and b'"sessions": "ok"' in page.body
