"""Bolt listeners, one module per kind of request: slash command, mention, review buttons."""
