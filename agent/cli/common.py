"""What every CLI sub-app shares: consoles, exit codes, JSON output. The errors themselves live in agent.errors."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console

from agent.errors import Failure, UserError

# Exit codes: 0 ok, 1 failure (something went wrong while doing the job), 2 usage or input error.
EXIT_OK = 0
EXIT_FAILURE = Failure.exit_code  # 1
EXIT_USAGE = UserError.exit_code  # 2

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(payload: Any) -> None:
    """Machine-readable output on stdout (no colour, no wrapping)."""
    if isinstance(payload, BaseModel):
        text = payload.model_dump_json(indent=2)
    else:
        text = json.dumps(payload, indent=2, default=_default, ensure_ascii=False)
    sys.stdout.write(text + "\n")


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
