"""Rate limits that hold across every gateway replica: fixed-window counters in Redis.

If Redis is unreachable the limit is not enforced (logged and counted): an outage of the
limiter must not take the portal down; auth keeps its own per-account lockout regardless.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ebok_shared.clock import clock
from ebok_shared.http.problems import Problem
from ebok_shared.logs import get_logger
from ebok_shared.redis_lane import RedisLane
from prometheus_client import Counter
from redis.exceptions import RedisError, ResponseError

log = get_logger(__name__)

LIMITER_ERRORS = Counter("ebok_gateway_rate_limiter_errors_total", "Rate limiter unavailable")
LIMITED = Counter("ebok_gateway_rate_limited_total", "Requests refused by a rate limit", ["rule"])


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window_seconds: int


# Stricter for the doors brute force knocks on; the rest is a general cap.
RULES = {
    "registration": Rule("registration", 10, 3600),
    "login": Rule("login", 30, 60),
    "password_reset": Rule("password_reset", 10, 3600),
    "activation": Rule("activation", 30, 3600),
    "ip": Rule("ip", 600, 60),
    "account": Rule("account", 300, 60),
}


# Every counter of one request in one command, atomically: each key counted, and given its
# expiry when it is new (a key names its window, so it needs one expiry, not one per hit). One
# script call costs the client a fraction of a MULTI … EXEC pipeline's six commands, and the
# gateway makes one on every request: over the gateway's own Redis connection
# (ebok_shared.redis_lane, ~20 µs of CPU a call, redis-py's client 100-140 µs), the requests
# that came in together counted in one write.
_COUNT = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[i]) end
end
return counts
"""


class RateLimiter:
    def __init__(self, lane: RedisLane, prefix: str) -> None:
        self.lane = lane
        self.prefix = prefix
        self._script = _COUNT
        self._sha = hashlib.sha1(_COUNT.encode(), usedforsecurity=False).hexdigest()

    async def _count(self, keys: list[str], args: list[int]) -> Any:
        """The script by its digest; sent whole (and so kept by Redis again) when Redis does
        not know it (a restart, SCRIPT FLUSH), as redis-py's scripts do."""
        try:
            return await self.lane.call("EVALSHA", self._sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.lane.call("EVAL", self._script, len(keys), *keys, *args)

    async def hit(self, *counted: tuple[Rule, str]) -> None:
        """Count one request of each ``(rule, who)`` (one round trip to Redis for all); 429
        when any is over its limit."""
        now = int(clock.now().timestamp())
        keys = [
            f"{self.prefix}{rule.name}:{who}:{now // rule.window_seconds}" for rule, who in counted
        ]
        try:
            counts = await self._count(
                keys=keys, args=[rule.window_seconds + 1 for rule, _ in counted]
            )
        except (RedisError, OSError) as exc:
            LIMITER_ERRORS.inc()
            log.warning("rate limiter unavailable", error=repr(exc))
            return
        for (rule, who), count in zip(counted, counts, strict=True):
            if count > rule.limit:
                LIMITED.labels(rule.name).inc()
                # A throttling decision is logged, not only counted (ASVS 7.2.2); the shared
                # renderer logs the refusal with the caller and route as well.
                log.warning("throttled", rule=rule.name, who=who, limit=rule.limit, count=count)
                retry_after = rule.window_seconds - now % rule.window_seconds
                raise Problem(
                    429,
                    f"Zbyt wiele prób. Spróbuj ponownie za {_polish_seconds(retry_after)}.",
                    code="rate-limited",
                    headers={"Retry-After": str(retry_after)},
                )


def _polish_seconds(seconds: int) -> str:
    if seconds >= 120:
        minutes = -(-seconds // 60)
        return f"{minutes} min"
    return f"{seconds} s"
