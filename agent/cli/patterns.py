"""CLI area: patterns. (Owner fills in; keep `register(app)` as the only entry point.)"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the top-level app."""
