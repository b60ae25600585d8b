"""The eval harness, shaped like inspect_ai: a Dataset of Samples, a Solver (ingest + draft), Scorers, Metrics,
and a log (the JSON report) that `compare` reads back.

Entry points: `dataset.load_samples`, `runner.run_eval`, `report.build_report` / `report.write_report`,
`compare.compare_reports`, `baselines.keyword_baseline`, `aiid.evaluate_aiid`.
"""
