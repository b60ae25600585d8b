"""Structured output that negotiates, against the fake server playing real local servers: the real openai and
anthropic SDKs on the wire, each fallback level, capability answers never retried, the mode remembered per base
URL and model, single-request and slow servers, echoed model names."""

from __future__ import annotations

import json
import threading
import time

import pytest
from pydantic import BaseModel

from agent.providers.anthropic_provider import AnthropicProvider
from agent.providers.base import ChatMessage, ChatRequest, ProviderError, RetryPolicy
from agent.providers.modes import ModeMemory, extract_json, is_capability_error
from agent.providers.openai_provider import OpenAIProvider
from tests.wire.server import Behaviour, FakeLLMServer, answer_as_asked, openai_error, request_mode


class Verdict(BaseModel):
    layer: str
    ids: list[str]


ANSWER = {"layer": "data", "ids": ["span:ab12"]}
FAST = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.2, answer_retries=1)


def obliging(path, body):
    return answer_as_asked(path, body, ANSWER)


def compatible(server: FakeLLMServer, tmp_path=None, **kw) -> OpenAIProvider:
    memory = ModeMemory(tmp_path / "providers.sqlite") if tmp_path is not None else None
    options = {
        "policy": FAST,
        "timeout": 5.0,
        "sleep": lambda s: None,
        "memory": memory,
        "model": "smollm2-135m",
    }
    return OpenAIProvider(
        api_key=None, base_url=server.url + "/v1", compatible=True, retry_timeouts=False, **{**options, **kw}
    )


def request(text: str = "Classify this.") -> ChatRequest:
    return ChatRequest(system="Be terse.", messages=[ChatMessage(role="user", content=text)], max_tokens=100)


def modes_sent(server: FakeLLMServer) -> list[str]:
    return [request_mode(r.path, r.body) for r in server.requests]


def test_500_on_json_schema_switches_to_tools_without_retrying(tmp_path):
    with FakeLLMServer(obliging, Behaviour(refuse_json_schema=True)) as server:
        parsed = compatible(server, tmp_path).parse(request(), Verdict)
    assert parsed.value == Verdict(**ANSWER) and parsed.mode == "tools"
    assert modes_sent(server) == ["json_schema", "tools"]  # the 500 was a capability answer: not retried
    call = server.requests[1].body
    assert call["tool_choice"] == {"type": "function", "function": {"name": "answer"}}
    assert call["tools"][0]["function"]["parameters"]["required"] == ["layer", "ids"]
    assert parsed.usage.calls == 2 and parsed.usage.failed_calls == 1


def test_each_level_down_to_plain_text(tmp_path):
    behaviour = Behaviour(refuse_json_schema=True, refuse_tools=400, refuse_json_object=422)
    with FakeLLMServer(obliging, behaviour) as server:
        parsed = compatible(server, tmp_path).parse(request(), Verdict)
    assert parsed.mode == "text" and parsed.value.ids == ["span:ab12"]
    assert modes_sent(server) == ["json_schema", "tools", "json_object", "text"]
    last = server.requests[-1].body
    assert "response_format" not in last and "tools" not in last
    assert '"required":["layer","ids"]' in last["messages"][0]["content"]  # the schema went into the prompt


def test_json_object_mode_carries_the_schema_for_grammar_servers(tmp_path):
    with FakeLLMServer(obliging, Behaviour(refuse_json_schema=True, refuse_tools=400)) as server:
        parsed = compatible(server, tmp_path).parse(request(), Verdict)
    assert parsed.mode == "json_object"
    response_format = server.requests[-1].body["response_format"]
    assert response_format["type"] == "json_object" and response_format["schema"]["title"] == "Verdict"


def test_the_mode_that_worked_is_remembered_per_base_url_and_model(tmp_path):
    with FakeLLMServer(obliging, Behaviour(refuse_json_schema=True, refuse_tools=400)) as server:
        compatible(server, tmp_path).parse(request(), Verdict)
        first = len(server.requests)
        parsed = compatible(server, tmp_path).parse(request(), Verdict)  # a new provider, the same home
        assert parsed.mode == "json_object"
        assert len(server.requests) == first + 1  # straight to the mode that worked
        other = compatible(server, tmp_path, model="another-model").parse(request(), Verdict)
        assert other.mode == "json_object" and len(server.requests) == first + 1 + 3  # negotiated afresh
    rows = ModeMemory(tmp_path / "providers.sqlite").all()
    assert {(r["model"], r["mode"]) for r in rows} == {
        ("smollm2-135m", "json_object"),
        ("another-model", "json_object"),
    }
    assert all(r["base_url"] == server.url + "/v1" for r in rows)


def test_a_remembered_mode_that_stops_working_falls_further(tmp_path):
    memory = ModeMemory(tmp_path / "providers.sqlite")
    with FakeLLMServer(obliging, Behaviour(refuse_tools=400)) as server:
        memory.put(server.url + "/v1", "smollm2-135m", "tools")
        parsed = compatible(server, tmp_path).parse(request(), Verdict)
    assert parsed.mode == "json_object" and modes_sent(server) == ["tools", "json_object"]
    assert memory.get(server.url + "/v1", "smollm2-135m") == "json_object"


def test_a_server_that_refuses_every_mode_fails_in_one_plain_sentence(tmp_path):
    behaviour = Behaviour(refuse_json_schema=True, refuse_tools=400, refuse_json_object=400)
    with FakeLLMServer(_refuse, behaviour) as server, pytest.raises(ProviderError) as info:
        compatible(server, tmp_path).parse(request(), Verdict)
    reason = info.value.reason
    assert (
        "none of the structured-output modes" in reason and "json_schema, tools, json_object, text" in reason
    )
    assert "llama_cpp" not in reason and "/usr/" not in reason  # the server's text stays in the log
    assert info.value.usage.calls == 4 and len(server.requests) == 4


def _refuse(path, body):
    return openai_error(400, "unknown field: messages[0].content")


def test_prose_around_the_json_is_extracted_and_a_bad_answer_repaired_once(tmp_path):
    answers = iter(
        [
            answer_as_asked(
                "/v1/chat/completions",
                {},
                "I think the layer is data, because the index is stale.",
                prose=False,
            ),
            answer_as_asked("/v1/chat/completions", {}, ANSWER),  # text mode: prose around a fenced block
        ]
    )
    behaviour = Behaviour(refuse_json_schema=True, refuse_tools=400, refuse_json_object=400)
    with FakeLLMServer(lambda path, body: next(answers), behaviour) as server:
        parsed = compatible(server, tmp_path).parse(request(), Verdict)
    assert parsed.mode == "text" and parsed.value.layer == "data"
    repair = server.requests[-1].body["messages"]
    assert repair[-2] == {
        "role": "assistant",
        "content": "I think the layer is data, because the index is stale.",
    }
    assert repair[-1]["role"] == "user" and "could not be used" in repair[-1]["content"]
    assert parsed.usage.invalid_answers == 1


def test_anthropic_falls_back_from_output_config_to_tool_use(tmp_path):
    with FakeLLMServer(obliging, Behaviour(refuse_output_config=400)) as server:
        provider = AnthropicProvider(
            api_key="k",
            base_url=server.url,
            policy=FAST,
            timeout=5.0,
            memory=ModeMemory(tmp_path / "m.sqlite"),
        )
        parsed = provider.parse(request(), Verdict)
        assert parsed.mode == "tools" and parsed.value == Verdict(**ANSWER)
        body = server.requests[-1].body
        assert body["tool_choice"] == {"type": "tool", "name": "answer"}
        assert body["tools"][0]["input_schema"]["required"] == ["layer", "ids"]


def test_timeout_on_a_local_server_is_not_retried():
    with FakeLLMServer(obliging, Behaviour(delay=0.6)) as server, pytest.raises(ProviderError) as info:
        compatible(server, timeout=0.2).parse(request(), Verdict)
    assert len(server.requests) == 1  # no retry queued behind the abandoned request
    assert "timed out after 0.2s" in info.value.reason and "not retried" in info.value.reason


def test_a_single_request_server_answers_one_at_a_time_and_slowly():
    with FakeLLMServer(obliging, Behaviour(serial=True, delay=0.2)) as server:
        provider = compatible(server)
        done: list[float] = []

        def ask() -> None:
            provider.parse(request(), Verdict)
            done.append(time.perf_counter())

        started = time.perf_counter()
        threads = [threading.Thread(target=ask) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert server.max_concurrent == 1 and len(done) == 3
    assert max(done) - started >= 0.6  # queued behind each other, as on llama.cpp's single slot


def test_echoed_model_names_are_not_priced():
    with FakeLLMServer(obliging, Behaviour(echo_model=True)) as server:
        provider = compatible(server, model="gpt-4o-mini")  # a local server asked for a priced name
        parsed = provider.parse(request(), Verdict)
    assert server.requests[0].body["model"] == "gpt-4o-mini"
    assert parsed.usage.model == "gpt-4o-mini" and parsed.usage.cost_usd is None


@pytest.mark.parametrize(
    "status,message,expected",
    [
        (500, "Input should be 'text' or 'json_object'", True),
        (400, "Unrecognized request argument supplied: tools", True),
        (422, "whatever", True),
        (500, "CUDA out of memory", False),
        (503, "overloaded", False),
        (401, "bad key", False),
        (404, "model not found", False),
        (429, "slow down", False),
        (400, "This model's maximum context length is 2048 tokens", False),
    ],
)
def test_capability_answers(status, message, expected):
    assert is_capability_error(status, message) is expected


@pytest.mark.parametrize(
    "text",
    [
        '{"layer": "data", "ids": []}',
        'Here you go:\n```json\n{"layer": "data", "ids": []}\n```',
        'The answer is {"layer": "data", "ids": []} as requested.',
    ],
)
def test_json_is_extracted_from_what_small_models_write(text):
    assert json.loads(extract_json(text)) == {"layer": "data", "ids": []}
