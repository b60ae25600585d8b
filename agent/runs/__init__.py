"""Multi-step and multi-agent runs: one trace read as a numbered list of turns (who acted, what it said or
called, what came back), the provenance of the bad final answer's claims, the usual agent failure shapes, and
the attribution of the failure to an agent, a step and a layer.

run = build_run(spans)                       # turns.py
attribution = attribute_run(run, incident)   # attribute.py (provenance.py + shapes.py)
"""
