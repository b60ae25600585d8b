"""Seeded, deterministic randomness and hex ids for one case."""

from __future__ import annotations

import hashlib
import random


def seeded(*parts: str) -> random.Random:
    """A Random seeded from the given strings (stable across runs and Python versions)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class IdGen:
    """Lowercase hex trace ids (32 chars) and span ids (16 chars), unique within a case."""

    def __init__(self, seed: str) -> None:
        self._rng = seeded("ids", seed)
        self._seen: set[str] = set()

    def _hex(self, bits: int) -> str:
        while True:
            value = f"{self._rng.getrandbits(bits):0{bits // 4}x}"
            if value not in self._seen and value.strip("0"):
                self._seen.add(value)
                return value

    def trace_id(self) -> str:
        return self._hex(128)

    def span_id(self) -> str:
        return self._hex(64)

    def token(self, prefix: str, n: int = 24) -> str:
        """An opaque provider-style id such as chatcmpl-... or msg_..."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return prefix + "".join(self._rng.choice(alphabet) for _ in range(n))
