"""Issue 16, item 5: a URL is never shown with its credentials, wherever it is shown (doctor, store and Slack
errors, provider descriptions, CLI error lines)."""

from __future__ import annotations

import json

import pytest

from retrieval.masking import mask_url, mask_urls
from tests.slackbed import run_cli

KEY = "sk-proj-TOPSECRET0123456789abcdef"
PASSWORD = "hunter2-TOPSECRET"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"http://user:{KEY}@host:8000/v1?api_key=XYZ&region=eu",
            "http://***@host:8000/v1?api_key=***&region=eu",
        ),
        (f"http://{KEY}@host/v1", "http://***@host/v1"),
        ("https://h/api/?token=abc&x=1", "https://h/api/?token=***&x=1"),
        ("https://h/?q=" + "A" * 30, "https://h/?q=***"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
        ("http://[::1]:8000/x?a=b%20c", "http://[::1]:8000/x?a=b%20c"),
        ("http://u:p@[bad", "http://***@[bad"),
        ("", ""),
    ],
)
def test_mask_url(url, shown):
    assert mask_url(url) == shown


def test_mask_urls_in_free_text():
    text = (
        f"cannot open the Chroma store at http://admin:{PASSWORD}@db:8000: refused (see https://x/?sig=abc)"
    )
    assert (
        mask_urls(text)
        == "cannot open the Chroma store at http://***@db:8000: refused (see https://x/?sig=***)"
    )


def test_doctor_never_prints_credentials_in_a_url(tmp_home, capsys, monkeypatch):
    tmp_home.mkdir(parents=True)
    monkeypatch.chdir(tmp_home.parent)
    monkeypatch.setenv("POSTMORTEM_PROVIDER", "openai-compatible")
    monkeypatch.setenv("POSTMORTEM_BASE_URL", f"http://user:{KEY}@llm.internal:8080/v1?api_key={KEY}")
    monkeypatch.setenv("POSTMORTEM_CHROMA_URL", f"http://admin:{PASSWORD}@127.0.0.1:9/")
    monkeypatch.setenv("SLACK_API_URL", f"ftp://bot:{PASSWORD}@slack.internal/api/")
    for plain in (False, True):
        result = run_cli(capsys, monkeypatch, "doctor", *(["--json"] if plain else []))
        shown = result.out + result.err
        assert KEY not in shown and PASSWORD not in shown and "TOPSECRET" not in shown
        assert "***@llm.internal:8080/v1" in shown
    found = {c["name"]: c for c in json.loads(result.out)["checks"]}
    assert "http://***@llm.internal:8080/v1?api_key=***" in found["provider"]["detail"]


def test_store_errors_and_location_hide_credentials(tmp_path):
    from retrieval.store import StoreUnavailable, TraceStore, _keyword_file

    with pytest.raises(StoreUnavailable) as caught:
        TraceStore(url=f"http://admin:{PASSWORD}@127.0.0.1:9", embedder=None, keyword_dir=tmp_path)
    assert PASSWORD not in str(caught.value) and "http://***@127.0.0.1:9" in str(caught.value)
    assert PASSWORD not in _keyword_file(tmp_path, f"http://admin:{PASSWORD}@db:8000").name


def test_cli_error_lines_mask_urls(tmp_home, capsys, monkeypatch):
    monkeypatch.setenv("POSTMORTEM_CHROMA_URL", f"http://admin:{PASSWORD}@127.0.0.1:9")
    result = run_cli(capsys, monkeypatch, "search", "refund")
    assert result.code == 1 and "http://***@127.0.0.1:9" in result.err and PASSWORD not in result.err
