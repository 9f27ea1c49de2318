"""A browser without JavaScript, for page tests: it keeps the portal's cookies, reads pages
with BeautifulSoup and submits their forms as they are (hidden fields such as the CSRF token
included), following redirects as a browser does (POST → 303 → GET)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from bs4 import BeautifulSoup, Tag
from yarl import URL


@dataclass
class Page:
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    history: list[tuple[int, str]] = field(default_factory=list)  # redirects on the way

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def html(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def soup(self) -> BeautifulSoup:
        return BeautifulSoup(self.html, "html.parser")

    @property
    def title(self) -> str:
        found = self.soup.title
        return found.get_text(strip=True) if found else ""

    @property
    def h1(self) -> str:
        found = self.soup.find("h1")
        return found.get_text(" ", strip=True) if found else ""

    @property
    def text(self) -> str:
        main = self.soup.find("main") or self.soup
        return " ".join(main.get_text(" ", strip=True).split())

    def error_summary(self) -> list[str]:
        box = self.soup.select_one(".error-summary")
        return [li.get_text(" ", strip=True) for li in box.select("li")] if box else []

    def field_error(self, name: str) -> str:
        found = self.soup.find(id=f"{name}-error")
        return found.get_text(" ", strip=True).removeprefix("Błąd:").strip() if found else ""

    def form(self, action: str | None = None) -> Tag:
        forms = self.soup.find_all("form")
        for form in forms:
            if action is None or form.get("action") == action:
                return form
        raise AssertionError(f"no form with action {action!r} on {self.url}: {self.title}")

    def links(self) -> list[str]:
        return [str(a["href"]) for a in self.soup.find_all("a", href=True)]

    def __str__(self) -> str:
        return f"{self.status} {self.url} «{self.title}» {self.text[:400]}"


def one(root: Tag | BeautifulSoup, selector: str) -> Tag:
    found = root.select_one(selector)
    assert found is not None, f"nothing matches {selector!r}"
    return found


def attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    assert value is not None, f"no {name} on {tag}"
    return " ".join(value) if isinstance(value, list) else str(value)


def summary_facts(root: Tag | BeautifulSoup) -> dict[str, str]:
    """A summary list's terms and what each says (``dl.summary-list``)."""
    facts = {}
    for term in root.select("dl.summary-list dt"):
        told = term.find_next_sibling("dd")
        assert told is not None, f"no dd after {term}"
        facts[term.get_text(strip=True)] = told.get_text(" ", strip=True)
    return facts


def form_fields(form: Tag) -> dict[str, str]:
    """What a browser would send of a form as it stands (inputs with their values)."""
    values: dict[str, str] = {}
    for element in form.find_all(["input", "textarea", "select"]):
        name = str(element.get("name") or "")
        if not name or element.get("type") in ("submit", "file", "button"):
            continue
        if element.get("type") in ("checkbox", "radio") and not element.has_attr("checked"):
            continue
        if element.name == "textarea":
            values[name] = element.get_text()
        elif element.name == "select":
            chosen = element.find("option", selected=True) or element.find("option")
            values[name] = str(chosen.get("value", "")) if chosen else ""
        else:
            values[name] = str(element.get("value", ""))
    return values


def person_address() -> str:
    """An address of its own (the benchmarking range 198.18.0.0/15, never routed) for each
    simulated person, so the gateway's per-address limits count people apart, as behind
    the real ingress."""
    return f"198.18.{random.randrange(0, 256)}.{random.randrange(1, 255)}"


class Portal:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base.rstrip("/")
        self.address = person_address()

    @classmethod
    def session(cls, base: str) -> aiohttp.ClientSession:
        # Chromium treats http://127.0.0.1 as a secure origin for __Host- cookies; so do we.
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[URL(base)])
        return aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=60))

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    async def _follow(self, resp: aiohttp.ClientResponse) -> Page:
        history = [(r.status, str(r.url)) for r in resp.history]
        return Page(str(resp.url), resp.status, dict(resp.headers), await resp.read(), history)

    async def get(self, path: str, **kw: Any) -> Page:
        headers = {"X-Forwarded-For": self.address, **kw.pop("headers", {})}
        async with self.http.get(self.url(path), headers=headers, **kw) as resp:
            return await self._follow(resp)

    async def post(self, path: str, data: Any, headers: dict[str, str] | None = None) -> Page:
        sent = {"X-Forwarded-For": self.address, **(headers or {})}
        async with self.http.post(self.url(path), data=data, headers=sent) as resp:
            return await self._follow(resp)

    async def submit(
        self,
        page: Page,
        values: Mapping[str, str] | None = None,
        *,
        action: str | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        button: tuple[str, str] | None = None,
    ) -> Page:
        """Fill in the form (``values`` over what it holds) and send it as a browser would."""
        form = page.form(action)
        fields = form_fields(form)
        fields.update(values or {})
        if button:
            fields[button[0]] = button[1]
        target = urljoin(page.url, str(form.get("action") or page.url))
        if files or form.get("enctype") == "multipart/form-data":
            data = aiohttp.FormData()
            for name, value in fields.items():  # the CSRF token first, as the form has it
                data.add_field(name, value)
            for name, (filename, content, content_type) in (files or {}).items():
                data.add_field(name, content, filename=filename, content_type=content_type)
            return await self.post(target, data)
        return await self.post(target, fields)
