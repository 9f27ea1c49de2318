"""E-mail text from Jinja2 templates: ``templates/<kind>.subject.txt``, ``<kind>.txt`` and
``<kind>.html`` (autoescaped: nothing a user typed can become markup), each page with the
footer of ``_footer.*``. Every link is built from the one public base URL."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import markupsafe
from ebok_shared.clock import LOCAL_TZ
from ebok_shared.polish import long_date

from .domain import one_line

# Polish names of the values events carry, by what they name.
LABELS: dict[str, dict[str, str]] = {
    "case": {
        "failure_report": "zgłoszenie awarii",
        "water_quality_complaint": "skarga na jakość wody",
        "data_change": "zgłoszenie zmiany danych",
        "reklamacja": "reklamacja",
        "letter": "pismo",
    },
    "garden_request": {
        "installation": "montaż wodomierza ogrodowego",
        "replacement": "wymiana wodomierza ogrodowego",
        "removal": "demontaż wodomierza ogrodowego",
    },
}

# What quote_plus leaves as it is: such a query value is written as it stands.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")

# The shortest run of layout lines worth encoding once (compose._quoted_printable): a
# shorter one saves less than the search for it costs.
_MIN_RUN = 64

# Pages of the e-BOK front end the e-mails link to, by name (one place to change them).
PAGES = {
    "home": "/",
    "activate": "/aktywacja",
    "reset_password": "/haslo/nowe",
    "confirm_email": "/konto/email/potwierdz",
    "regulations": "/regulamin",
    "invoice": "/faktury/{number}",
    "e_invoices": "/faktury/e-faktura",
    "confirm_e_invoice": "/faktury/e-faktura/potwierdz",
    "case": "/korespondencja/{case_id}",
    "readings": "/odczyty",
    "meters": "/wodomierze",
    "interest_notes": "/noty-odsetkowe",
    "payment": "/platnosci/{order_id}",
    "console": "/operator/logowanie",  # the operators' console (their own notices)
}


@dataclass(frozen=True)
class Brand:
    """Who the e-mails come from; shown in every footer."""

    utility_name: str
    public_base_url: str
    contact_email: str
    contact_phone: str


@dataclass(frozen=True)
class Rendered:
    subject: str  # one line
    text: str
    html: str
    # Runs of whole lines the layouts write whatever the e-mail (no value from an event, so no
    # secret): each may occur in ``text`` / ``html``, and compose encodes it once for all
    # e-mails (quoted-printable is line by line; see compose._quoted_printable).
    text_static: tuple[str, ...] = ()
    html_static: tuple[str, ...] = ()


class RenderError(Exception):
    """A template failed (a missing field, an unknown kind): the e-mail cannot be built."""


class Renderer:
    def __init__(self, brand: Brand) -> None:
        self.brand = brand
        self._base = brand.public_base_url.rstrip("/")
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("ebok_notifier", "templates"),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # The templates ship with the package and never change under a running process:
            # no stat() of each template file per e-mail.
            auto_reload=False,
            # Every template in a plain dict (the package's few dozen, for the process's life):
            # the default LRU cache takes a lock and reorders its queue on each lookup, and a
            # page's {% extends %} looks its layout up on every render.
            cache_size=-1,
        )
        self._env.globals.update(brand=brand, link=self.link)
        # A kind's three templates (or the text of one that is only text), looked up once (the
        # environment's cache costs a lookup by loader and name each time; the templates never
        # change under a running process).
        self._templates: dict[str, tuple[jinja2.Template | str, ...]] = {}
        self._env.filters.update(
            date=format_date,
            datetime=format_datetime,
            amount=format_amount,
            m3=format_volume,
            percent=format_percent,
            label=lambda value, what: LABELS[what][value],
        )
        # The footers say who we are, nothing about the e-mail: rendered once here and put in
        # every page as they are (an include per page cost a template context each).
        self._env.globals.update(
            footer_txt=self._env.get_template("_footer.txt").render(),
            footer_html=markupsafe.Markup(self._env.get_template("_footer.html").render()),
        )
        self._text_static = self._static_lines("_layout.txt")
        self._html_static = self._static_lines("_layout.html")

    def _static_lines(self, layout: str) -> tuple[str, ...]:
        """The runs of whole lines ``layout`` writes around its blocks: the layout rendered
        with a marker in every block, cut into lines, the lines without a marker kept
        (consecutive ones as one run). No event's values go in, so nothing secret is kept."""
        marker = "\x00"
        blocks = "".join(
            f"{{% block {name} %}}{marker}{{% endblock %}}"
            for name in self._env.get_template(layout).blocks
        )
        page = self._env.from_string(f'{{% extends "{layout}" %}}{blocks}').render()
        runs: list[str] = []  # (runs under _MIN_RUN characters are not worth a search)
        run = ""
        lines = [line + "\n" for line in page.split("\n")]
        lines[-1] = lines[-1][:-1]  # what follows the last line end ("" when it is the end)
        for line in lines:
            if marker in line:
                runs.append(run)
                run = ""
            else:
                run += line
        runs.append(run)
        return tuple(run for run in runs if len(run) >= _MIN_RUN)

    def _template(self, name: str) -> jinja2.Template | str:
        """The template ``name``; or its text, when it has neither a tag nor a value (many
        subjects): a render per e-mail would only give back the same text."""
        assert self._env.loader is not None
        source, _, _ = self._env.loader.get_source(self._env, name)
        template = self._env.get_template(name)
        if "{" not in source and "}" not in source:
            return template.render()
        # Jinja2 keeps a template's globals as a ChainMap over the environment's and copies
        # them into every render's context, key by key in Python: a quarter of rendering a
        # short e-mail. The globals never change once the renderer is built, so one plain
        # dict does (copied in C).
        template.globals = dict(template.globals)
        return template

    def link(self, page: str, /, **params: Any) -> str:
        """An absolute link to a named page; path parameters fill ``{…}``, the rest is the
        query string."""
        path = PAGES[page]
        if "{" in path:
            for name in list(params):
                if "{" + name + "}" in path:
                    path = path.replace("{" + name + "}", quote(str(params.pop(name)), safe=""))
        if not params:
            return self._base + path
        query = _query(params)
        return f"{self._base}{path}" + (f"?{query}" if query else "")

    def render(self, kind: str, context: Mapping[str, Any]) -> Rendered:
        try:
            templates = self._templates.get(kind)
            if templates is None:
                templates = self._templates[kind] = tuple(
                    self._template(f"{kind}{suffix}")
                    for suffix in (".subject.txt", ".txt", ".html")
                )
            subject, text, html = (
                template if isinstance(template, str) else template.render(context)
                for template in templates
            )
        except (jinja2.TemplateError, KeyError, ValueError, TypeError) as exc:
            raise RenderError(f"{kind}: {type(exc).__name__}: {exc}") from exc
        return Rendered(
            subject=one_line(subject),
            text=text,
            html=html,
            text_static=self._text_static,
            html_static=self._html_static,
        )


def _query(params: Mapping[str, Any]) -> str:
    """``urlencode`` of the values that are not None; a value quote_plus would leave as it is
    (tokens, numbers, identifiers) written as it stands, without its per-value machinery
    (four links an e-mail)."""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        text = str(value) if isinstance(value, str | int) else None
        if text is None or not _URL_SAFE.fullmatch(text) or not _URL_SAFE.fullmatch(key):
            return urlencode({k: v for k, v in params.items() if v is not None})
        parts.append(f"{key}={text}")
    return "&".join(parts)


NBSP = "\u00a0"


# Pure functions of their value, called for the text and the HTML of an e-mail alike (and an
# event's instants repeat): remembered rather than parsed and converted to Warsaw time again.
@functools.lru_cache(maxsize=1024)
def format_date(value: str | dt.date) -> str:
    """'2026-01-19' (or an instant, taken in Warsaw time) → '19 stycznia 2026'."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(LOCAL_TZ).date()
    return long_date(value)


@functools.lru_cache(maxsize=1024)
def format_datetime(value: str | dt.datetime) -> str:
    """An instant in Warsaw time: '19 stycznia 2026, godz. 14:30'."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(LOCAL_TZ)
    return f"{format_date(local.date())}, godz. {local:%H:%M}"


def format_amount(value: str | Decimal) -> str:
    """'1234.50' → '1 234,50 zł' (a no-break space groups thousands)."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    sign = "-" if amount < 0 else ""
    whole, _, cents = f"{abs(amount):.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{NBSP.join(groups)},{cents}{NBSP}zł"


def format_volume(value: str) -> str:
    """'1264.567' (m³, three decimals) → '1264,567 m³'."""
    Decimal(value)  # refuses what is not a number
    return f"{value.replace('.', ',')}{NBSP}m³"


def format_percent(value: str) -> str:
    """'9.75' (a rate in percent) → '9,75%'."""
    Decimal(value)  # refuses what is not a number
    return f"{value.replace('.', ',')}%"
