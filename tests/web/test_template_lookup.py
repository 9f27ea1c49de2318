"""Web's Jinja2 environment reads ``x.field`` of the gateway's JSON (plain dicts) from the key
at once: the answer must stay Jinja2's own for every case — a key, a dict's method of the same
name as a key, a missing key, objects that are not plain dicts."""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace

import jinja2
import pytest
from ebok_web.rendering import environment


def _render(source: str, **context: object) -> str:
    return environment().from_string(source).render(**context)


def test_a_field_of_a_dict_is_its_key() -> None:
    assert _render("{{ inv.status }}", inv={"status": "paid"}) == "paid"


def test_a_dicts_method_stays_the_method_even_with_a_key_of_its_name() -> None:
    page = {"items": [1, 2], "total": 2}
    assert _render("{{ page['items']|length }}", page=page) == "2"
    listed = _render("{% for k, v in page.items() %}{{ k }};{% endfor %}", page=page)
    assert listed == "items;total;"
    assert _render("{{ page.get('total') }}", page=page) == "2"


def test_a_missing_key_is_undefined_as_before() -> None:
    with pytest.raises(jinja2.UndefinedError):  # the environment's StrictUndefined
        _render("{{ inv.status }}", inv={})
    assert _render("{{ inv.status is defined }}", inv={}) == "False"


def test_other_objects_are_read_as_jinja2_reads_them() -> None:
    assert _render("{{ o.status }}", o=SimpleNamespace(status="open")) == "open"
    assert _render("{{ o.status }}", o=OrderedDict(status="kept")) == "kept"  # not a plain dict
    reference = jinja2.Environment(autoescape=True)
    for source, value in (("{{ d.keys }}", {"keys": 1}), ("{{ d.status }}", {"status": "<b>"})):
        assert _render(source, d=value) == reference.from_string(source).render(d=value)
