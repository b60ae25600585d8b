"""Deterministic generator of the labelled eval cases in evals/cases/ (run `python -m evals.generator`).

Scenarios (one module per failure family under `scenarios/`) describe an application, its healthy and failing
exchanges, what changed and when; `traffic` turns them into traces, `noise` adds red herrings and other
services, and one writer per trace dialect (`writers/`) serialises the traces as an instrumentation would.
"""
