"""Streamed answers of the OpenAI presets: Server-Sent Events read as they arrive, the text
assembled and the tokens timed.

With `"stream": true` an OpenAI-compatible server answers `text/event-stream`: lines
`data: {chunk}` (chat: the text piece at `choices.0.delta.content`; completions: at
`choices.0.text`), comments such as `: ping`, and `data: [DONE]` at the end. One request gives:

- time to first token: from sending the request to the first chunk with non-empty text;
- tokens: `usage.completion_tokens` when the server sends usage (vLLM with include_usage, ...),
  else the chunks with text (a server that streams one token per chunk, as llama.cpp and vLLM
  do by default);
- tokens per second over the generation: the tokens after the first / the time from the first
  to the last chunk with text; mean inter-token ms is its reciprocal.

A stream whose choice never says `finish_reason` was cut short (llama-cpp-python ends a stream
early when another request waits): a failed request, not a short answer.

The assembled answer has the shape of the same request without streaming
(`{"choices": [{"message": {"role", "content"}}]}` or `{"choices": [{"text"}]}`, with usage
when sent), so gate.online.response_field reads the prediction from it as from any answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

EVENT_STREAM = "text/event-stream"
READ_SIZE = 65536


@dataclass(frozen=True)
class Timing:
    """How one streamed answer came: time to first token, tokens, and the generation time
    (first to last chunk with text), all from the client's clock."""

    ttft_ms: float
    tokens: int
    generation_ms: float

    @property
    def tokens_per_s(self) -> float | None:
        """Tokens after the first per second of generation; None with a single token (or
        every chunk at once: nothing to divide by)."""
        if self.tokens < 2 or self.generation_ms <= 0:
            return None
        return (self.tokens - 1) / (self.generation_ms / 1000)

    @property
    def inter_token_ms(self) -> float | None:
        if self.tokens < 2 or self.generation_ms <= 0:
            return None
        return self.generation_ms / (self.tokens - 1)

    def as_dict(self) -> dict[str, float | int | None]:
        return {"ttft_ms": round(self.ttft_ms, 3), "tokens": self.tokens,
                "tokens_per_s": self.tokens_per_s, "inter_token_ms": self.inter_token_ms}


class StreamError(Exception):
    """The stream said something other than chunks: a line that is not JSON, an error
    object, or an end before the answer's (no finish_reason). `body` says what."""

    def __init__(self, kind: str, body: str) -> None:
        super().__init__(body)
        self.kind = kind  # "not-json" | "error" | "cut"
        self.body = body


def is_event_stream(response: requests.Response) -> bool:
    return response.headers.get("Content-Type", "").split(";")[0].strip() == EVENT_STREAM


def read(response: requests.Response, started: float, chat: bool) -> tuple[dict[str, Any],
                                                                             Timing | None]:
    """The assembled answer and its Timing (None when no chunk held text) from a streamed
    response; `started` is time.perf_counter() when the request was sent. StreamError for a
    chunk that is not JSON or an error the server streamed."""
    pieces: list[str] = []
    stamps: list[float] = []
    usage: dict[str, Any] | None = None
    finish: Any = None
    done = False
    for payload in data_lines(_arrivals(response)):
        # after [DONE], read on to the end of the answer: a connection read to its end goes
        # back to the pool, so the next request's time to first token has no new handshake
        done = done or payload == "[DONE]"
        if done:
            continue
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise StreamError("not-json", payload) from None
        if not isinstance(chunk, dict):
            raise StreamError("not-json", payload)
        if chunk.get("error"):
            raise StreamError("error", payload)
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        choice = _first_choice(chunk)
        piece = _text(choice, chat)
        if piece:
            stamps.append(time.perf_counter())
            pieces.append(piece)
        if choice.get("finish_reason") is not None:
            finish = choice["finish_reason"]
    if finish is None:  # every OpenAI-compatible stream ends its choice with one
        raise StreamError("cut", f"stream ended without a finish_reason after {len(pieces)} "
                                 "text chunks: cut short by the server (llama-cpp-python: "
                                 "--interrupt_requests False)")
    text = "".join(pieces)
    choice_out: dict[str, Any] = ({"index": 0, "message": {"role": "assistant", "content": text}}
                                  if chat else {"index": 0, "text": text})
    answer: dict[str, Any] = {"choices": [{**choice_out, "finish_reason": finish}]}
    if usage is not None:
        answer["usage"] = usage
    if not stamps:
        return answer, None
    tokens = _completion_tokens(usage) or len(stamps)
    return answer, Timing((stamps[0] - started) * 1000, tokens, (stamps[-1] - stamps[0]) * 1000)


def data_lines(arrivals: Iterable[bytes]) -> Iterator[str]:
    """The payloads of `data:` lines, as bytes arrive (a line may be split between reads);
    comments, event names and blank lines are skipped."""
    pending = b""
    for data in arrivals:
        pending += data
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if line.startswith("data:"):
                yield line[5:].strip()
    if pending.startswith(b"data:"):
        yield pending[5:].decode("utf-8", errors="replace").strip()


def _arrivals(response: requests.Response) -> Iterator[bytes]:
    """Bytes as the server sends them: each HTTP chunk of a chunked answer, else whatever the
    socket has (read1), never waiting for a full buffer, which would delay the timestamps."""
    raw = response.raw
    if getattr(raw, "chunked", False):
        yield from response.iter_content(chunk_size=None)
        return
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # not urllib3: what requests offers
        yield from response.iter_content(chunk_size=None)
        return
    while data := read1(READ_SIZE, decode_content=True):
        yield data


def _first_choice(chunk: dict[str, Any]) -> dict[str, Any]:
    choices = chunk.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}


def _text(choice: dict[str, Any], chat: bool) -> str:
    if chat:
        delta = choice.get("delta")
        piece = delta.get("content") if isinstance(delta, dict) else None
    else:
        piece = choice.get("text")
    return piece if isinstance(piece, str) else ""


def _completion_tokens(usage: dict[str, Any] | None) -> int | None:
    value = (usage or {}).get("completion_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else None
