"""Token estimates of texts and chat requests, without a tokenizer.

No tokenizer download is possible here (tiktoken fetches its files), so counts are a conservative estimate in the
way BPE tokenizers split text: one token per 4 letters of a word, per 3 digits of a number, per punctuation mark
(JSON and hex ids are punctuation- and digit-heavy, and a flat chars/3.5 would undercount them by half), and one
per non-ASCII character (two above the BMP, e.g. emoji). Whitespace is free (BPE merges it into the next word).
`benchmarks/bench_prompt_budget.py` compares it with the MiniLM WordPiece tokenizer as a proxy.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from agent.providers.base import ChatRequest

MESSAGE_OVERHEAD = 4  # role and separators per chat message
_PIECES = re.compile(r"[A-Za-z]{1,4}|\d{1,3}|[!-/:-@\[-`{-~]")
_ASTRAL = re.compile(r"[\U00010000-\U0010FFFF]")
_LARGE = 20_000  # characters; above this the vectorised counter is faster
# byte class: 0 whitespace/control/non-ASCII byte, 1 letter, 2 digit, 3 punctuation; chars per token by class
_CLASS = np.zeros(256, dtype=np.int8)
_CLASS[[c for c in range(128) if chr(c).isalpha()]] = 1
_CLASS[[c for c in range(128) if chr(c).isdigit()]] = 2
_CLASS[[c for c in range(33, 127) if not chr(c).isalnum()]] = 3
_PER_TOKEN = np.array([1, 4, 3, 1])


def estimate_tokens(text: str | None) -> int:
    if not text:
        return 0
    count = len(_PIECES.findall(text)) if len(text) < _LARGE else _count_large(text)
    if not text.isascii():
        ascii_chars = len(text.encode("ascii", "ignore"))
        count += len(text) - ascii_chars + len(_ASTRAL.findall(text))
    return count


def _count_large(text: str) -> int:
    """Same count as the regex, by runs of byte classes (numpy)."""
    classes = _CLASS[np.frombuffer(text.encode("utf-8"), dtype=np.uint8)]
    starts = np.flatnonzero(np.concatenate(([True], classes[1:] != classes[:-1])))
    lengths = np.diff(np.append(starts, len(classes)))
    kinds = classes[starts]
    counted = kinds > 0
    return int(np.sum(-(-lengths[counted] // _PER_TOKEN[kinds[counted]])))


def estimate_request_tokens(request: ChatRequest) -> int:
    total = estimate_tokens(request.system) + (MESSAGE_OVERHEAD if request.system else 0)
    for m in request.messages:
        total += MESSAGE_OVERHEAD + estimate_tokens(m.content)
        total += sum(estimate_tokens(c.arguments) + estimate_tokens(c.name) for c in m.tool_calls)
    return total
