"""A second case family ("production"), written as data and independently of the first generator's scenarios.

One YAML file per case (`evals/family2/cases/*.yaml` for the dev half, `evals/sealed/sources/*.yaml` for the sealed
test half) declares the application, its exchanges, what changed, the production noise and the gold answer;
`python -m evals.family2` renders each into a case folder with the shared dialect writers
(`evals/generator/writers/`). Only the writers, the trace representation and the seeded ids are shared with the
first generator.
"""
