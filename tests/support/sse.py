"""A small OpenAI-compatible server that streams (Server-Sent Events) with chosen delays, for
tests of the probes' token timing. A stand-in for an LLM server whose time to first token and
token gaps we must control exactly (a "slowed before its first token" variant); the real
runtime's streaming is tested against llama-cpp-python (tests/integration/runtimes)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from tests.support.http import JSONHandler


@dataclass(frozen=True)
class Stream:
    ttft: float = 0.05  # seconds before the first token
    gap: float = 0.01  # seconds between tokens
    tokens: int = 4
    chunked: bool = True  # HTTP/1.1 chunked; False: HTTP/1.0, the body ends when it closes
    streams: bool = True  # False: ignores "stream" and answers one JSON object
    usage: bool = False  # a last chunk with usage.completion_tokens (twice the chunks)
    error: bool = False  # an error object after the first token
    finish: bool = True  # False: [DONE] without a finish_reason (a stream cut short)


class StreamHandler(JSONHandler):
    bodies: ClassVar[list[Any]]  # the request bodies received, in order
    peers: ClassVar[list[tuple[str, int]]]  # the client's address of each request


def handler(stream: Stream) -> type[StreamHandler]:
    """A handler class answering POST /v1/chat/completions and /v1/completions."""

    class Handler(StreamHandler):
        protocol_version = "HTTP/1.1" if stream.chunked else "HTTP/1.0"
        bodies: ClassVar[list[Any]] = []
        peers: ClassVar[list[tuple[str, int]]] = []

        def do_POST(self) -> None:
            body = self.body()
            Handler.bodies.append(body)
            Handler.peers.append(self.client_address)
            chat = self.path.endswith("/chat/completions")
            words = [f"w{i} " for i in range(stream.tokens)]
            if not (stream.streams and body.get("stream")):
                time.sleep(stream.ttft + stream.gap * (stream.tokens - 1))
                choice = {"message": {"role": "assistant", "content": "".join(words)}} \
                    if chat else {"text": "".join(words)}
                self.send_json(200, {"choices": [choice]})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            if stream.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._event(b": ping\r\n\r\n")
            time.sleep(stream.ttft)
            for i, word in enumerate(words):
                if i:
                    time.sleep(stream.gap)
                piece = {"delta": {"content": word}} if chat else {"text": word}
                self._data({"choices": [{"index": 0, **piece, "finish_reason": None}]})
                if stream.error:
                    self._data({"error": {"message": "out of memory"}})
                    break
            if stream.finish:
                self._data({"choices": [{"index": 0, "delta": {}, "text": "",
                                         "finish_reason": "length"}]})
            if stream.usage:
                self._data({"choices": [], "usage": {"completion_tokens": 2 * stream.tokens}})
            self._event(b"data: [DONE]\r\n\r\n")
            if stream.chunked:
                self.wfile.write(b"0\r\n\r\n")

        def _data(self, chunk: dict[str, Any]) -> None:
            self._event(f"data: {json.dumps(chunk)}\r\n\r\n".encode())

        def _event(self, data: bytes) -> None:
            if stream.chunked:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            else:
                self.wfile.write(data)
            self.wfile.flush()

    return Handler
