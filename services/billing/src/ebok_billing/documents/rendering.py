"""Rendering PDFs off the event loop, with a small cache of finished documents.

A document depends only on its data (the renderers are deterministic), so the cache key
is a digest of that data: a changed invoice or client can never be served stale.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .utility import Utility

_CACHE_SIZE = 256
_cache: OrderedDict[str, bytes] = OrderedDict()


def _digest(kind: str, *records: Any) -> str:
    h = hashlib.sha256(kind.encode())
    for record in records:
        h.update(repr(sorted(dict(record).items())).encode())
    return h.hexdigest()


async def _render(
    kind: str, render: Callable[..., bytes], *records: Any, utility: Utility
) -> bytes:
    key = _digest(kind, *records, {"utility": repr(utility)})
    cached = _cache.get(key)
    if cached is not None:
        _cache.move_to_end(key)
        return cached
    body = await asyncio.to_thread(render, *records, utility)
    _cache[key] = body
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return body


async def invoice_document(inv: Any, buyer: Any, utility: Utility, *, copy: bool) -> bytes:
    """``buyer``: the buyer's data kept on the invoice when it was issued; ``copy``: the
    customer's "ODPIS" rather than the original an e-invoice carries."""
    kind = "invoice-copy" if copy else "invoice"
    render = functools.partial(_invoice, copy=copy)
    return await _render(kind, render, inv, buyer, utility=utility)


async def contract_document(contract: Any, client: Any, utility: Utility) -> bytes:
    return await _render("contract", _contract, contract, client, utility=utility)


# ``pdf`` (and with it fpdf, about 0.5 s CPU) is imported by the first document a process
# renders, in the worker thread that renders it: most billing processes never render one
# (migrate, a feed, every test stack's start), and the event loop never waits on the import.
def _invoice(inv: Any, buyer: Any, utility: Utility, *, copy: bool) -> bytes:
    from . import pdf

    return pdf.invoice_document(inv, buyer, utility, copy=copy)


def _contract(contract: Any, client: Any, utility: Utility) -> bytes:
    from . import pdf

    return pdf.contract_document(contract, client, utility)


def clear_cache() -> None:
    _cache.clear()
