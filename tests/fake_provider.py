"""Loopback HTTP server speaking just enough of the OpenAI and Gemini APIs for offline tests."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

ERROR_STATUS = {"r400": 400, "r401": 401, "r403": 403, "r404": 404, "r429": 429, "r500": 500, "r503": 503}
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class CannedReply:
    """One chat completion the fake server will return."""

    content: str
    finish_reason: str = "stop"
    prompt_tokens: int = 10
    completion_tokens: int = 5


# Content of a `wrongschema` reply: valid JSON, but no schema the agent asks for has these fields.
WRONG_SCHEMA_CONTENT = json.dumps({"answer": 42, "items": ["not", "what", "was", "asked"]})
# Faults answer with this, so that they leave the `reply()` queue to the healthy paths.
_UNQUEUED = CannedReply('{"fault": "this completion is never meant to be read"}')
_FAIL_FIRST = re.compile(r"^fail(?P<times>\d+)-(?P<behaviour>.+)$")
_RETRY_AFTER = re.compile(r"^r429wait(?P<seconds>\d+(?:\.\d+)?)$")


class FakeChatServer:
    """Loopback server; the first path segment of a request (its "mode") picks the behaviour.

    - `ok` answers OpenAI chat completions from the `reply()` queue (then "ok").
    - `r429`, `r500`, ... answer that HTTP status (OpenAI and Gemini error bodies alike).
    - `r429wait<S>` answers 429 with a `Retry-After: S` header (seconds, may be fractional).
    - `hang` sleeps `hang_s` before answering a placeholder; `drop` closes the connection without an answer.
    - `garbage` answers 200 with a body that is not JSON; `truncated` answers 200 with the first half of a
      completion's JSON (its Content-Length says so: only the JSON is broken); `nochoices` answers a
      completion with `choices: []`; `wrongschema` answers a well-formed completion whose content is JSON of
      the wrong shape. None of these faults takes a reply from the `reply()` queue.
    - `fail<N>-<mode>` behaves like `<mode>` for its first N requests, then like `ok`: the way to watch
      bounded retries succeed (`hits(mode)` counts the requests each mode received).
    - any mode registered with `serve_body(mode, body)` answers 200 with that JSON body, whatever its shape.
    """

    def __init__(self, *, hang_s: float = 5.0) -> None:
        self.hang_s = hang_s
        self.requests: list[dict[str, Any]] = []
        self._replies: list[CannedReply] = []
        self._hits: Counter[str] = Counter()
        self._bodies: dict[str, Any] = {}
        self._lock = threading.Lock()  # handlers run in parallel threads
        self._stop = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None

    def reply(self, content: str, **kwargs: Any) -> FakeChatServer:
        """Queue a canned chat completion."""
        self._replies.append(CannedReply(content, **kwargs))
        return self

    def serve_body(self, mode: str, body: Any) -> FakeChatServer:
        """Answer every request to `mode` with 200 and `body` as JSON (a completion of the wrong shape, say)."""
        self._bodies[mode] = body
        return self

    def hits(self, mode: str) -> int:
        """Requests received so far whose first path segment is `mode` (retries included)."""
        with self._lock:
            return self._hits[mode]

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def base_url(self, mode: str = "ok", *, v1: bool = True) -> str:
        """Base URL for a client (OpenAI clients want the /v1 suffix, Gemini's does not)."""
        return f"{self.url}/{mode}/v1" if v1 else f"{self.url}/{mode}"

    def start(self) -> FakeChatServer:
        """Serve on a free loopback port in a daemon thread."""
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner._handle(self)

            def do_POST(self) -> None:
                owner._handle(self)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False  # a hanging handler must not hold up stop()
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, req: http.server.BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = {"_raw": body.decode(errors="replace")}
        mode = req.path.strip("/").split("/", 1)[0]
        with self._lock:
            self._hits[mode] += 1
            nth = self._hits[mode]
            self.requests.append({"mode": mode, "path": req.path, "body": payload})
        self._behave(req, _behaviour_for(mode, nth), payload)

    def _behave(self, req: http.server.BaseHTTPRequestHandler, behaviour: str, payload: dict[str, Any]) -> None:
        if behaviour in self._bodies:
            self._send_json(req, 200, self._bodies[behaviour])
        elif behaviour == "hang":
            self._hang(req, payload)
        elif behaviour == "drop":
            req.close_connection = True  # no status line at all: the client sees the server hang up
        elif behaviour == "garbage":
            self._send(req, 200, b"<html>this is not json</html>", "application/json")
        elif behaviour == "truncated":
            whole = json.dumps(self._completion(payload, _UNQUEUED)).encode()
            self._send(req, 200, whole[: len(whole) // 2], "application/json")
        elif behaviour == "nochoices":
            self._send_json(req, 200, self._completion(payload, _UNQUEUED) | {"choices": []})
        elif behaviour == "wrongschema":
            self._send_json(req, 200, self._completion(payload, CannedReply(WRONG_SCHEMA_CONTENT)))
        elif (wait := _RETRY_AFTER.match(behaviour)) is not None:
            self._send_error(req, 429, {"Retry-After": wait["seconds"]})
        elif behaviour in ERROR_STATUS:
            self._send_error(req, ERROR_STATUS[behaviour])
        else:
            self._send_json(req, 200, self._completion(payload))

    def _hang(self, req: http.server.BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.hang_s
        while time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.02)
        # The client has given up by now: a placeholder answer leaves the reply() queue to the healthy paths.
        if not self._stop.is_set():
            self._send_json(req, 200, self._completion(payload, _UNQUEUED))

    def _send_error(
        self, req: http.server.BaseHTTPRequestHandler, status: int, headers: dict[str, str] | None = None
    ) -> None:
        error = {
            "error": {
                "code": status,
                "message": f"fake {status}",
                "status": _GOOGLE_STATUS[status],
                "type": "fake_error",
            }
        }
        self._send_json(req, status, error, headers)

    def _send_json(
        self, req: http.server.BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        self._send(req, status, json.dumps(body).encode(), "application/json", headers)

    def _completion(self, payload: dict[str, Any], canned: CannedReply | None = None) -> dict[str, Any]:
        if canned is None:
            with self._lock:
                canned = self._replies.pop(0) if self._replies else CannedReply("ok")
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(payload.get("model", "fake")),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": canned.finish_reason,
                    "message": {"role": "assistant", "content": canned.content},
                }
            ],
            "usage": {
                "prompt_tokens": canned.prompt_tokens,
                "completion_tokens": canned.completion_tokens,
                "total_tokens": canned.prompt_tokens + canned.completion_tokens,
            },
        }

    @staticmethod
    def _send(
        req: http.server.BaseHTTPRequestHandler,
        status: int,
        data: bytes,
        ctype: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            req.send_response(status)
            req.send_header("Content-Type", ctype)
            for name, value in (headers or {}).items():
                req.send_header(name, value)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
        except OSError:  # the client gave up (timeout test); nothing to answer
            pass


def _behaviour_for(mode: str, nth: int) -> str:
    """What the `nth` request (1-based) to `mode` gets: `fail<N>-<mode>` turns into `ok` after N requests."""
    fail_first = _FAIL_FIRST.match(mode)
    if fail_first is None:
        return mode
    return fail_first["behaviour"] if nth <= int(fail_first["times"]) else "ok"
