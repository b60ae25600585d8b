"""`postmortem search`: hybrid search over the ingested fixtures, filters, post-mortems, bad flags."""

# ruff: noqa: F811 - the fixtures shared with test_cli_ingest are imported by name

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from agent.errors import UserError
from agent.timeparse import parse_time
from retrieval.ingest import iter_file
from tests.conftest import FIXTURES
from tests.test_cli_ingest import home, ingested, ingested_home, inputs, invoke, open_store  # noqa: F401

ENDPOINT = "billing-webhook.internal:443"  # appears in one recorded error, nowhere else


def search_json(*args: str) -> list[dict]:
    result = invoke("search", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_identifier_query_puts_the_span_quoting_it_first(ingested):
    rows = search_json(ENDPOINT, "-k", "5")
    assert rows[0]["keyword_rank"] == 1 and rows[0]["status"] == "error"
    assert ENDPOINT in rows[0]["excerpt"]
    store = open_store()
    try:
        span = store.get_span(rows[0]["span_id"])
    finally:
        store.close()
    assert ENDPOINT in (span.status.message or "")
    assert span.trace_id == rows[0]["trace_id"]


def test_filters_narrow_the_results(ingested):
    everything = search_json("refund for an annual plan", "-k", "50")
    assert len(everything) > 5
    llm = search_json("refund for an annual plan", "-k", "50", "--kind", "llm")
    assert llm and all(r["kind"] == "llm" for r in llm)
    assert {r["span_id"] for r in llm} == {r["span_id"] for r in everything if r["kind"] == "llm"}

    service = sorted(ingested["services"])[-1]
    by_service = search_json("refund", "-k", "50", "--service", service)
    assert by_service and all(r["service"] == service for r in by_service)

    model = next(iter(ingested["models"]))
    by_model = search_json("refund", "-k", "50", "--model", model)
    assert by_model and all(r["model"] == model or model in (r["model"] or "") for r in by_model)

    one = everything[0]["trace_id"]
    assert {r["trace_id"] for r in search_json("refund", "-k", "50", "--trace", one)} == {one}

    times = sorted(datetime.fromisoformat(r["start_time"]) for r in everything)
    middle = times[len(times) // 2]
    later = search_json("refund for an annual plan", "-k", "50", "--since", middle.isoformat())
    assert later and all(datetime.fromisoformat(r["start_time"]) >= middle for r in later)
    earlier = search_json("refund for an annual plan", "-k", "50", "--until", middle.isoformat())
    assert earlier and all(datetime.fromisoformat(r["start_time"]) <= middle for r in earlier)


def test_human_output_lists_ids_kind_service_time_and_excerpt(ingested):
    result = invoke("search", ENDPOINT, "-k", "2")
    assert result.exit_code == 0, result.output
    rows = search_json(ENDPOINT, "-k", "2")
    first_line, excerpt_line = result.stdout.splitlines()[:2]
    for field in ("trace_id", "span_id", "kind", "service"):
        assert str(rows[0][field]) in first_line
    started = datetime.fromisoformat(rows[0]["start_time"]).astimezone(UTC)
    assert started.strftime("%Y-%m-%d %H:%M:%SZ") in first_line  # UTC, to the second
    assert ENDPOINT in excerpt_line


def test_postmortem_search(ingested):
    stale = next(iter_file(FIXTURES / "postmortems" / "2024-11-14-refund-bot-stale-index.md"))
    rows = search_json(
        "the search index was stale so the bot quoted an old refund window", "--postmortems", "-k", "3"
    )
    assert rows[0]["postmortem_id"] == stale.id
    assert len({r["postmortem_id"] for r in rows}) == len(rows)
    result = invoke("search", "refund", "--postmortems", "--kind", "llm")
    assert isinstance(result.exception, UserError)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--since", "yesterday-ish"], "--since 'yesterday-ish'"),
        (["--until", "2025-13-01"], "--until '2025-13-01'"),
        (["--kind", "robot"], "--kind 'robot'"),
        (["--since", "2025-06-04", "--until", "2025-06-03"], "is after --until"),
    ],
)
def test_bad_flags_are_user_errors(ingested, args, needle):
    result = invoke("search", "refund", *args)
    assert isinstance(result.exception, UserError)
    assert needle in str(result.exception)


def test_empty_store_says_so(tmp_home, home):
    result = invoke("search", "refund")
    assert result.exit_code == 0
    assert "no spans stored yet" in result.stdout


def test_parse_time_forms():
    now = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
    assert parse_time("2h", "--since", now) == now - timedelta(hours=2)
    assert parse_time("7d", "--since", now) == now - timedelta(days=7)
    assert parse_time("2025-06-03T10:00:00Z", "--since") == datetime(2025, 6, 3, 10, tzinfo=UTC)
    assert parse_time("2025-06-03T10:00:00", "--since") == datetime(2025, 6, 3, 10, tzinfo=UTC)
    assert parse_time(None, "--since") is None
