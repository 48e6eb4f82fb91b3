"""Loopback HTTP server speaking just enough of the OpenAI and Gemini APIs for offline tests."""

from __future__ import annotations

import http.server
import json
import threading
import time
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


class FakeChatServer:
    """Loopback server; the first path segment picks the behaviour.

    `base_url("ok")` answers OpenAI chat completions from the `reply()` queue; `r429`, `r500`, ... answer
    that HTTP status (OpenAI and Gemini error bodies alike); `hang` sleeps `hang_s` before answering;
    `garbage` answers 200 with a body that is not JSON.
    """

    def __init__(self, *, hang_s: float = 5.0) -> None:
        self.hang_s = hang_s
        self.requests: list[dict[str, Any]] = []
        self._replies: list[CannedReply] = []
        self._stop = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None

    def reply(self, content: str, **kwargs: Any) -> FakeChatServer:
        """Queue a canned chat completion."""
        self._replies.append(CannedReply(content, **kwargs))
        return self

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
        self.requests.append({"mode": mode, "path": req.path, "body": payload})
        if mode == "hang":
            deadline = time.monotonic() + self.hang_s
            while time.monotonic() < deadline and not self._stop.is_set():
                time.sleep(0.02)
            mode = "ok"
        if mode == "garbage":
            self._send(req, 200, b"<html>this is not json</html>", "application/json")
        elif mode in ERROR_STATUS:
            status = ERROR_STATUS[mode]
            error = {
                "error": {
                    "code": status,
                    "message": f"fake {status}",
                    "status": _GOOGLE_STATUS[status],
                    "type": "fake_error",
                }
            }
            self._send(req, status, json.dumps(error).encode(), "application/json")
        else:
            self._send(req, 200, json.dumps(self._completion(payload)).encode(), "application/json")

    def _completion(self, payload: dict[str, Any]) -> dict[str, Any]:
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
    def _send(req: http.server.BaseHTTPRequestHandler, status: int, data: bytes, ctype: str) -> None:
        try:
            req.send_response(status)
            req.send_header("Content-Type", ctype)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
        except OSError:  # the client gave up (timeout test); nothing to answer
            pass
