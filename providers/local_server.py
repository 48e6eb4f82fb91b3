"""Managed in-process llama.cpp servers (xllamacpp), one per local model, stopped on exit and Ctrl-C."""

from __future__ import annotations

import atexit
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from budgetmlagent.providers.catalogue import LocalModel, ServerSettings, ensure_model, get_model
from budgetmlagent.providers.errors import map_provider_error

THREADS_ENV = "BUDGETMLAGENT_THREADS"
VERBOSITY_ENV = "BUDGETMLAGENT_LLAMA_VERBOSITY"
DEFAULT_THREADS = 2
# llama.cpp log levels: 1 keeps errors only; 3 (its default) prints every slot and timing line.
DEFAULT_VERBOSITY = 1


class LocalServerError(RuntimeError):
    """The llama.cpp server could not start or stopped answering."""


def default_threads() -> int:
    """Threads for llama.cpp: $BUDGETMLAGENT_THREADS or 2 (more threads than cores slows it down)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return DEFAULT_THREADS
    try:
        value = int(raw)
    except ValueError:
        raise LocalServerError(f"${THREADS_ENV}={raw!r} is not an integer") from None
    if value < 1:
        raise LocalServerError(f"${THREADS_ENV} must be >= 1, got {value}")
    return value


class LocalServer:
    """One xllamacpp server on a free loopback port serving one GGUF file (OpenAI-compatible API)."""

    def __init__(
        self,
        name: str,
        model_path: Path,
        *,
        threads: int | None = None,
        settings: ServerSettings | None = None,
    ) -> None:
        self.name = name
        self.model_path = Path(model_path)
        self.threads = threads or default_threads()
        self.settings = settings or ServerSettings()
        self._server: Any = None
        self._root_url: str | None = None
        self.load_seconds: float | None = None

    @property
    def running(self) -> bool:
        """Started and not stopped (does not probe the socket)."""
        return self._server is not None

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:PORT` of the running server."""
        if self._root_url is None:
            raise LocalServerError(f"server for {self.name} is not running")
        return self._root_url

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL (ends with /v1)."""
        return f"{self.root_url}/v1"

    @property
    def port(self) -> int:
        """TCP port the server listens on."""
        return int(self.root_url.rsplit(":", 1)[1])

    def _params(self) -> Any:
        import xllamacpp

        p = xllamacpp.CommonParams()
        p.model.path = str(self.model_path)
        p.hostnames = ["127.0.0.1"]
        p.port = 0  # the server binds a free port itself: no race between probing and binding
        p.n_ctx = self.settings.n_ctx
        p.n_parallel = self.settings.n_parallel
        p.n_batch = self.settings.n_batch
        p.cpuparams.n_threads = self.threads
        p.cpuparams_batch.n_threads = self.threads
        p.cpuparams.poll = self.settings.poll
        p.cpuparams_batch.poll = self.settings.poll
        p.use_jinja = True
        p.chat_template = ""  # empty = the GGUF's own template; any other string is read as Jinja
        p.cache_prompt = True  # keep the KV of the previous prompt: shared prefixes are not recomputed
        p.endpoint_metrics = True  # token/second counters for smoke tests and benchmarks (loopback only)
        if self.settings.cache_ram_mib is not None:
            p.cache_ram_mib = self.settings.cache_ram_mib
        p.verbosity = int(os.environ.get(VERBOSITY_ENV, DEFAULT_VERBOSITY))
        return p

    def start(self, *, timeout_s: float = 120.0) -> LocalServer:
        """Load the model and wait until /health answers ok."""
        if self.running:
            return self
        import xllamacpp

        t0 = time.monotonic()
        try:
            server = xllamacpp.Server(self._params())
        except Exception as exc:
            raise LocalServerError(f"llama.cpp server for {self.name} failed to start: {exc}") from exc
        self._server = server
        self._root_url = str(server.listening_address).rstrip("/")
        try:
            self.wait_ready(timeout_s=max(1.0, timeout_s - (time.monotonic() - t0)))
        except BaseException:
            self.stop()
            raise
        self.load_seconds = time.monotonic() - t0
        return self

    def health(self, timeout_s: float = 2.0) -> bool:
        """True when /health says ok."""
        try:
            with urllib.request.urlopen(f"{self.root_url}/health", timeout=timeout_s) as resp:
                return resp.status == 200
        except (OSError, LocalServerError):
            return False

    def wait_ready(self, *, timeout_s: float = 120.0) -> None:
        """Poll /health until ok or raise LocalServerError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.health(timeout_s=min(2.0, max(0.1, deadline - time.monotonic()))):
                return
            time.sleep(0.05)
        raise LocalServerError(f"llama.cpp server for {self.name} not ready after {timeout_s:.0f} s")

    def stop(self) -> None:
        """Stop the server and free the model memory and the listening port."""
        server, self._server = self._server, None
        self._root_url = None
        # The C++ destructor joins the server loop, closes the socket and frees the model; it runs when
        # the last reference goes, so none may be kept anywhere else.
        del server

    def metrics(self, timeout_s: float = 5.0) -> dict[str, float]:
        """llama.cpp's cumulative counters (`prompt_tokens_total`, `prompt_seconds_total`, ...)."""
        try:
            with urllib.request.urlopen(f"{self.root_url}/metrics", timeout=timeout_s) as resp:
                text = resp.read().decode()
        except OSError as exc:
            raise map_provider_error(exc, model=f"local:{self.name}") from exc
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("llamacpp:"):
                key, _, value = line.removeprefix("llamacpp:").partition(" ")
                try:
                    out[key] = float(value)
                except ValueError:
                    continue
        return out

    def chat_raw(self, payload: dict[str, Any], *, timeout_s: float = 120.0) -> dict[str, Any]:
        """POST /v1/chat/completions directly; the reply keeps llama.cpp's `timings` block."""
        req = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                return dict(json.loads(resp.read()))
        except (OSError, ValueError) as exc:
            raise map_provider_error(exc, model=f"local:{self.name}") from exc

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._root_url or "stopped"
        return f"LocalServer({self.name!r}, {where}, threads={self.threads})"


_SERVERS: dict[str, LocalServer] = {}
# Re-entrant: the SIGINT handler runs on the main thread and may interrupt code holding the lock.
_LOCK = threading.RLock()
_hooks_installed = False
_previous_sigint: Any = None


def get_server(name: str, *, threads: int | None = None, catalogue: dict[str, LocalModel] | None = None) -> LocalServer:
    """The running server for catalogue model `name`, started on first use (one per model per process).

    A server already running keeps its thread count; `threads` only applies when it starts.
    """
    with _LOCK:
        server = _SERVERS.get(name)
        if server is not None and server.running:
            return server
        entry = get_model(name, catalogue)
        path = ensure_model(name, install=False, catalogue=catalogue)
        server = LocalServer(name, path, threads=threads, settings=entry.server)
        _install_hooks()
        server.start()
        _SERVERS[name] = server
        return server


def running_servers() -> dict[str, LocalServer]:
    """Servers started by get_server that are still running."""
    with _LOCK:
        return {n: s for n, s in _SERVERS.items() if s.running}


def stop_server(name: str) -> None:
    """Stop one managed server (no-op if it is not running)."""
    with _LOCK:
        server = _SERVERS.pop(name, None)
        if server is not None:
            server.stop()


def stop_all() -> None:
    """Stop every managed server."""
    with _LOCK:
        for name in list(_SERVERS):
            stop_server(name)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    stop_all()
    prev = _previous_sigint
    if callable(prev) and prev is not signal.default_int_handler:
        prev(signum, frame)
        return
    raise KeyboardInterrupt


def _install_hooks() -> None:
    global _hooks_installed, _previous_sigint
    if _hooks_installed:
        return
    atexit.register(stop_all)
    # Signal handlers can only be set from the main thread; elsewhere atexit still cleans up.
    if threading.current_thread() is threading.main_thread():
        prev = signal.getsignal(signal.SIGINT)
        if prev is not signal.SIG_IGN:
            _previous_sigint = prev
            signal.signal(signal.SIGINT, _on_sigint)
    _hooks_installed = True


def metrics_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What happened between two `metrics()` snapshots: tokens processed, cached, and tokens/s."""

    def d(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    prompt_s, decode_s = d("prompt_seconds_total"), d("tokens_predicted_seconds_total")
    return {
        "prompt_tokens": d("prompt_tokens_total"),
        "cached_tokens": d("prompt_tokens_cached_total"),
        "decoded_tokens": d("tokens_predicted_total"),
        "prompt_seconds": prompt_s,
        "decode_seconds": decode_s,
        "prompt_per_second": d("prompt_tokens_total") / prompt_s if prompt_s > 0 else 0.0,
        "decode_per_second": d("tokens_predicted_total") / decode_s if decode_s > 0 else 0.0,
    }
