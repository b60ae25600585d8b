"""Deterministic generator of the first family of labelled eval cases in evals/cases/ (`python -m evals.generator`).

Each case is a data file under `cases/` (loaded into the spec types of `spec.py` by `load.py`) describing an
application, its healthy and failing exchanges, what changed and when; `traffic` turns them into traces, `noise`
adds red herrings and other services, and one writer per trace dialect (`writers/`) serialises the traces as an
instrumentation would. The second family lives in `evals/family2/`.
"""
