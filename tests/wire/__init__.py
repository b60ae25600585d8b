"""A local fake of the OpenAI and Anthropic wire protocols (see server.py), for tests and benchmarks."""
