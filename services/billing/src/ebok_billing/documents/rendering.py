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

from . import pdf

_CACHE_SIZE = 256
_cache: OrderedDict[str, bytes] = OrderedDict()


def _digest(kind: str, *records: Any) -> str:
    h = hashlib.sha256(kind.encode())
    for record in records:
        h.update(repr(sorted(dict(record).items())).encode())
    return h.hexdigest()


async def _render(
    kind: str, render: Callable[..., bytes], *records: Any, utility: pdf.Utility
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


async def invoice_document(inv: Any, buyer: Any, utility: pdf.Utility, *, copy: bool) -> bytes:
    """``buyer``: the buyer's data kept on the invoice when it was issued; ``copy``: the
    customer's "ODPIS" rather than the original an e-invoice carries."""
    kind = "invoice-copy" if copy else "invoice"
    render = functools.partial(pdf.invoice_document, copy=copy)
    return await _render(kind, render, inv, buyer, utility=utility)


async def contract_document(contract: Any, client: Any, utility: pdf.Utility) -> bytes:
    return await _render("contract", pdf.contract_document, contract, client, utility=utility)


def clear_cache() -> None:
    _cache.clear()
