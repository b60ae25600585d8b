"""The bounds every parser of untrusted input keeps (trace files, post-mortems, incident and config YAML).

One table, each bound with why it is where it is. A record that passes a bound is rejected alone (named by file
and line or record); the rest of the file is still read.
"""

from __future__ import annotations

# JSON/YAML nesting below one record (a span, an observation, a JSON line, a YAML document). Real records nest
# well under 30 levels (an OTLP kvlist attribute costs 4 JSON levels per level: 120 allows 25 nested kvlists);
# the bound keeps every recursive walk (decoding, redaction, serialising) far from Python's recursion limit.
MAX_NESTING = 120

# Values (scalars and containers) one YAML document may expand to, counting an alias each time it is used. A
# front matter or an incident file has tens to a few thousand; an alias bomb of 400 bytes expands to 10^9.
MAX_YAML_VALUES = 100_000

# Values (scalars and containers) in one span or observation. The largest real LLM spans (long conversations,
# 100 retrieved documents) hold a few thousand; this keeps one record's parse tree well under 200 MB.
MAX_RECORD_VALUES = 1_000_000

# Bytes of one JSON line, and characters of text in one streamed record. The largest real LLM spans (a 200k-token
# context recorded in full, twice) are a few MB; a longer line is skipped while being read, never held whole.
MAX_RECORD_BYTES = 64 << 20

# Integers are kept as recorded while they fit in 64 bits (OTLP intValue is int64; token counts and sizes are
# far below). A larger one cannot be a real measurement: that attribute is kept as its text instead.
MAX_INT = 2**63 - 1

# Bytes of one OTLP/HTTP export request body (`postmortem receive`), as sent and again once decompressed, so a
# gzip bomb stops here instead of being inflated whole. The SDK exporters send 512 spans a request and the
# Collector's own OTLP receiver refuses bodies past 20 MiB; a larger batch is answered 413 (send smaller ones).
# A request is parsed whole: its values are bounded by MAX_RECORD_VALUES and its nesting by MAX_NESTING.
MAX_OTLP_REQUEST_BYTES = 32 << 20
