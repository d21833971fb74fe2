"""Streamed answers of the OpenAI presets (serving/sse.py through serving.Client): the text is
assembled so predictions read as without streaming, and the tokens are timed, against a real
HTTP server that streams with known delays (chunked and HTTP/1.0)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import pytest
from tests.support.sse import Stream, handler

from modelship.serving import Answer, Client, ServeSpec
from modelship.serving.sse import Timing, data_lines

Serve = Callable[[type[BaseHTTPRequestHandler]], str]
CHAT = ServeSpec(protocol="openai-chat", predict="/v1/chat/completions",
                 response_field="choices.0.message.content", retries=0, stream=True)
COMPLETIONS = dataclasses.replace(CHAT, protocol="openai-completions",
                                  predict="/v1/completions", response_field="choices.0.text")
ROW = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def ask_once(http_server: Serve, kind: type[BaseHTTPRequestHandler],
             spec: ServeSpec = CHAT) -> Answer:
    """Serve `kind` and send it one prediction with `spec`."""
    base = http_server(kind)
    with Client(spec) as client:
        return client.predict(base + spec.predict, dict(ROW))


def test_data_lines_survive_lines_split_between_reads() -> None:
    arrivals = [b": ping\r\n\r\nda", b'ta: {"a"', b": 1}\r\n\r\nevent: x\ndata: [DONE]"]
    assert list(data_lines(arrivals)) == ['{"a": 1}', "[DONE]"]


def test_timing_of_one_token_has_no_rate() -> None:
    assert Timing(50.0, 1, 0.0).tokens_per_s is None
    assert Timing(50.0, 5, 400.0).tokens_per_s == pytest.approx(10.0)
    assert Timing(50.0, 5, 400.0).inter_token_ms == pytest.approx(100.0)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "http-1.0"])
@pytest.mark.parametrize("spec", [CHAT, COMPLETIONS], ids=["chat", "completions"])
def test_a_streamed_answer_is_read_and_timed(http_server: Serve, spec: ServeSpec,
                                             chunked: bool) -> None:
    stream = Stream(ttft=0.2, gap=0.05, tokens=5, chunked=chunked)
    kind = handler(stream)
    base = http_server(kind)
    with Client(spec) as client:
        answer = client.predict(base + spec.predict, dict(ROW))
    assert answer.ok, answer.failure
    assert answer.prediction == "w0 w1 w2 w3 w4 "
    assert kind.bodies[-1]["stream"] is True
    timing = answer.timing
    assert timing is not None
    assert timing.tokens == 5
    assert 200 <= timing.ttft_ms < 1000  # the first token waited 0.2 s on the server
    assert 4 * 50 <= timing.generation_ms < 1500  # four gaps of 0.05 s after it
    assert timing.tokens_per_s is not None
    assert 2 < timing.tokens_per_s <= 20
    assert answer.latency_ms is not None
    assert answer.latency_ms >= timing.ttft_ms


def test_usage_counts_the_tokens_when_the_server_sends_it(http_server: Serve) -> None:
    answer = ask_once(http_server, handler(Stream(ttft=0.01, gap=0.02, tokens=4, usage=True)))
    assert answer.timing is not None
    assert answer.timing.tokens == 8


def test_a_server_that_does_not_stream_still_answers(http_server: Serve) -> None:
    answer = ask_once(http_server, handler(Stream(streams=False)))
    assert answer.ok
    assert answer.prediction == "w0 w1 w2 w3 "
    assert answer.timing is None  # nothing timed: the checks on it are not measured


def test_an_error_in_the_stream_is_a_failure(http_server: Serve) -> None:
    answer = ask_once(http_server, handler(Stream(error=True)))
    assert not answer.ok
    assert answer.failure is not None
    assert "out of memory" in answer.failure.body


def test_without_stream_the_request_is_unchanged(http_server: Serve) -> None:
    kind = handler(Stream())
    base = http_server(kind)
    with Client(dataclasses.replace(CHAT, stream=False)) as client:
        answer = client.predict(base + CHAT.predict, dict(ROW))
    assert answer.ok
    assert answer.timing is None
    assert "stream" not in kind.bodies[-1]


def test_a_stream_cut_short_is_a_failure_not_a_short_answer(http_server: Serve) -> None:
    answer = ask_once(http_server, handler(Stream(finish=False)))
    assert not answer.ok
    assert answer.failure is not None
    assert "without a finish_reason after 4 text chunks" in answer.failure.body


def test_a_streamed_answer_read_to_its_end_keeps_the_connection(http_server: Serve) -> None:
    """The next request's time to first token has no new connection in it."""
    kind = handler(Stream(ttft=0.01, gap=0.001))
    base = http_server(kind)
    with Client(CHAT) as client:
        for _ in range(3):
            assert client.predict(base + CHAT.predict, dict(ROW)).timing is not None
    assert len(set(kind.peers)) == 1
