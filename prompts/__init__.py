"""Prompt templates live here as files (`*.md`), loaded by name. `$name` placeholders, string.Template syntax."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).resolve().parent


@cache
def load(name: str) -> Template:
    """Load prompts/<name>.md as a string.Template."""
    path = PROMPTS_DIR / f"{name}.md"
    return Template(path.read_text(encoding="utf-8"))


def render(name: str, **values: object) -> str:
    return load(name).substitute({k: str(v) for k, v in values.items()})
