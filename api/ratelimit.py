"""Per-token rate limits: an in-process token bucket per API token id (one hub process serves the API)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from ggzy.errors import HubError

DEFAULT_RATE_PER_SECOND = 20.0
DEFAULT_BURST = 60


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """`rate` requests per second on average and bursts of up to `burst`, counted per key (the token id)."""

    def __init__(self, rate: float = DEFAULT_RATE_PER_SECOND, burst: int = DEFAULT_BURST) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one request for key; returns 0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


def rate_limited(retry_after: float, limiter: TokenBucketLimiter) -> HubError:
    """The bilingual 429 with the seconds to wait (also sent as Retry-After)."""
    seconds = max(1, math.ceil(retry_after))
    error = HubError(
        "rate_limited",
        f"请求过于频繁：每个令牌每秒最多 {limiter.rate:g} 次（突发 {limiter.burst} 次），请 {seconds} 秒后重试",
        f"too many requests: at most {limiter.rate:g} per second per token (bursts of {limiter.burst}); "
        f"retry in {seconds} s",
        status_code=429,
        detail={"retry_after_seconds": seconds, "rate_per_second": limiter.rate, "burst": limiter.burst},
    )
    error.headers = {"Retry-After": str(seconds)}  # type: ignore[attr-defined]
    return error
