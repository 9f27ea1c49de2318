"""The relay's fast path: a batch's publish frames encoded here and written to aiormq's channel
in one go, below aio-pika.

What aiormq's ``basic_publish`` does per message (a task, the channel lock, a frame queue
hand-off and a socket write each: most of the relay's CPU) done once for the batch, with the
same confirmation bookkeeping, so the broker's confirms and returns reach these futures exactly
as they would reach aiormq's. That bookkeeping is aiormq's private state (pinned in
``shared/pyproject.toml``); :func:`unavailable` checks it is what this module expects, and the
relay falls back to aio-pika's ordinary publishing when it is not.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.metadata
import struct
from collections.abc import Awaitable
from typing import Any, NamedTuple, TypeVar

import aiormq
from aiormq.abc import ChannelFrame

from ..logs import get_logger

log = get_logger(__name__)

_T = TypeVar("_T")

# The aiormq releases whose channel internals this module was written against.
SUPPORTED_AIORMQ = ((7, 2, 4), (7, 3))
# What a channel must have: set in ``Channel.__init__`` (instance attributes) ...
_CHANNEL_STATE = (
    "confirmations",
    "message_id_delivery_tag",
    "delivery_tag",
    "write_queue",
    "number",
    "max_content_size",
)
# ... and on the class.
_CHANNEL_MEMBERS = ("lock", "closing", "_on_confirm_frame", "_confirm_delivery")
_FRAME_FIELDS = {"payload", "should_close"}


class Message(NamedTuple):
    exchange: str
    event_type: str  # also the routing key
    message_id: str
    body: bytes


def unavailable() -> str | None:
    """Why the fast path cannot be used with the installed aiormq, or None when it can."""
    try:
        version = importlib.metadata.version("aiormq")
    except importlib.metadata.PackageNotFoundError:
        return "aiormq's version is unknown"
    if not _supported(version):
        return f"aiormq {version} is not the pinned release"
    channel = getattr(aiormq, "Channel", None)
    if channel is None:
        return "aiormq.Channel is missing"
    missing = [name for name in _CHANNEL_MEMBERS if not hasattr(channel, name)]
    init = getattr(channel.__init__, "__code__", None)
    assigned = set(init.co_names) if init is not None else set()
    missing += [name for name in _CHANNEL_STATE if name not in assigned]
    if not dataclasses.is_dataclass(ChannelFrame) or not _FRAME_FIELDS <= {
        f.name for f in dataclasses.fields(ChannelFrame)
    }:
        missing.append("ChannelFrame(payload, should_close)")
    if missing:
        return f"aiormq.Channel lacks {', '.join(missing)}"
    return None


def _supported(version: str) -> bool:
    try:
        parts = tuple(int(p) for p in version.split(".")[:3])
    except ValueError:
        return False
    low, high = SUPPORTED_AIORMQ
    return low <= parts and parts[: len(high)] < high


async def publish(channel: aiormq.Channel, messages: list[Message]) -> list[Any]:
    """Publish ``messages`` as persistent, mandatory messages, in order, and return each one's
    outcome: its confirm, or the error (a return, a nack)."""
    if not messages:
        return []
    _settle_confirms_at_once(channel)
    first, confirms = await _unless_closed(channel, _enqueue(channel, messages))
    try:
        return await _unless_closed(channel, asyncio.gather(*confirms, return_exceptions=True))
    finally:
        _forget(channel, messages, first)


async def _enqueue(
    channel: aiormq.Channel, messages: list[Message]
) -> tuple[int, list[asyncio.Future[Any]]]:
    """Number the messages, register their confirmations and queue all their frames as one
    write; returns the first delivery tag and the confirmations."""
    futures: list[asyncio.Future[Any]] = []
    loop = asyncio.get_running_loop()
    async with channel.lock:  # nothing else takes a delivery tag in between
        payload = b"".join(message_frames(channel, *message) for message in messages)
        first = channel.delivery_tag + 1
        for tag, message in enumerate(messages, first):
            # A plain future, not the channel's (whose registry costs a quarter of the relay):
            # _unless_closed, not the channel's close, is what ends the wait for it.
            future = loop.create_future()
            futures.append(future)
            channel.confirmations[tag] = future
            # How a return finds its publish.
            channel.message_id_delivery_tag[message.message_id] = tag
        channel.delivery_tag = first + len(messages) - 1
        try:
            await channel.write_queue.put(ChannelFrame(payload, should_close=False))
        except BaseException:
            # Never written, so the broker numbers the next publish ``first``: undo.
            channel.delivery_tag = first - 1
            for tag, future in enumerate(futures, first):
                channel.confirmations.pop(tag, None)
                future.cancel()
            _forget(channel, messages, first)
            raise
    return first, futures


def _settle_confirms_at_once(channel: aiormq.Channel) -> None:
    """Have ``channel`` settle a confirm that covers many publishes (``multiple``) at once.

    aiormq compares every pending delivery tag with the confirm in a Python loop and settles
    each covered one in a callback of its own, once per confirm frame: with a batch's 500
    publishes pending and the broker confirming it in many frames, that was a seventh of the
    relay process's CPU. The same tags are settled the same way (aiormq's own
    ``_confirm_delivery``, in tag order), only now, in one pass. The relay's confirm channel
    is its own, so nothing else on it expects aiormq's way."""
    if getattr(channel, "_ebok_confirms", False):
        return
    confirm = channel._confirm_delivery
    pending = channel.confirmations

    async def on_confirm_frame(frame: Any) -> None:
        if frame.delivery_tag not in pending:  # as aiormq: said, and otherwise ignored
            log.error("unexpected confirm from the broker", frame=repr(frame))
            return
        if not getattr(frame, "multiple", False):
            confirm(frame.delivery_tag, frame)
            return
        for tag in [tag for tag in pending if tag <= frame.delivery_tag]:
            confirm(tag, frame)

    # Replaced on this one channel object, where its reader looks it up (mypy forbids
    # assigning to a method).
    channel._on_confirm_frame = on_confirm_frame  # type: ignore[method-assign]
    # A marker of ours, no attribute aiormq declares.
    channel._ebok_confirms = True  # type: ignore[attr-defined]


def _forget(channel: aiormq.Channel, messages: list[Message], first: int) -> None:
    for tag, message in enumerate(messages, first):
        if channel.message_id_delivery_tag.get(message.message_id) == tag:
            del channel.message_id_delivery_tag[message.message_id]


# AMQP 0-9-1 frames, encoded here because pamqp's general encoder costs more than the rest
# of the relay; tests check the bytes against pamqp's.
_FRAME_HEAD = struct.Struct(">BHI")  # frame type, channel, payload size
_METHOD = struct.Struct(">HHH")  # class, method, reserved (ticket)
_HEADER = struct.Struct(">HHQH")  # class (basic), weight, body size, property flags
_FLAGS = 0x8000 | 0x1000 | 0x0080 | 0x0020  # content-type, delivery-mode, message-id, type
_CONTENT_TYPE = b"\x10application/json"
_PERSISTENT = b"\x02"


@functools.lru_cache(maxsize=256)
def _method_frame(channel_number: int, exchange: str, routing_key: str) -> bytes:
    """basic.publish (class 60, method 40) with ``mandatory`` set: a constant per route."""
    method = _METHOD.pack(60, 40, 0) + _short(exchange) + _short(routing_key) + b"\x01"
    return _FRAME_HEAD.pack(1, channel_number, len(method)) + method + b"\xce"


def _short(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 255:
        raise ValueError(f"longer than an AMQP short string: {value[:50]}…")
    return bytes((len(raw),)) + raw


def message_frames(
    channel: aiormq.Channel, exchange: str, event_type: str, message_id: str, body: bytes
) -> bytes:
    """One message's frames (method, content header, body chunks) on ``channel``."""
    number = channel.number
    header = (
        _HEADER.pack(60, 0, len(body), _FLAGS)
        + _CONTENT_TYPE
        + _PERSISTENT
        + _short(message_id)
        + _short(event_type)
    )
    parts = [
        _method_frame(number, exchange, event_type),
        _FRAME_HEAD.pack(2, number, len(header)),
        header,
        b"\xce",
    ]
    size = channel.max_content_size
    for start in range(0, len(body), size):
        chunk = body[start : start + size]
        parts += (_FRAME_HEAD.pack(3, number, len(chunk)), chunk, b"\xce")
    return b"".join(parts)


async def _unless_closed(channel: aiormq.abc.AbstractChannel, step: Awaitable[_T]) -> _T:
    """``step``'s result; ConnectionError if the channel closes first. (Neither a put into a
    lost connection's full frame queue nor its pending confirms are sure to be woken by
    aiormq: without this, a broken connection mid-batch could stall the relay for good.)"""
    task = asyncio.ensure_future(step)
    closing = channel.closing
    try:
        await asyncio.wait({task, closing}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        closing.cancel()
    if not task.done():
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            # The step's own cancellation is expected; the caller's (shutdown) must go on
            # up, or a cancelled relay would carry on and never let its shutdown end.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        raise ConnectionError("the broker channel closed while publishing")
    return task.result()
