"""`python -m agent.cli`: the same as the `postmortem` console script (handy from a checkout without the venv's
script on PATH)."""

from agent.cli.main import run

run()
