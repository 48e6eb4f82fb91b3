"""Output capture and cleaning: what a run printed, bounded, and made fit for a prompt.

Each stream is captured up to 400,000 characters (head and a rolling tail), the observation is cut in the
middle to max_output_chars (truncate_middle), invalid UTF-8 is replaced, ANSI escapes and control characters
are removed (clean_output); a pipe held open by a survivor is drained for at most a second, never waited on.
last_traceback finds the error report a failed script left in stderr.
"""

from __future__ import annotations

import codecs
import os
import re
import select
import subprocess
import threading
import time

# Internal capture cap per stream, far above what observations show, so a print loop cannot exhaust RAM.
_CAPTURE_CHARS = 400_000
_TRACEBACK_HEAD = "Traceback (most recent call last):"
# ANSI escape sequences and control characters other than tab and newline (carriage returns become newlines).
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-~]?|[\x00-\x08\x0b-\x1f\x7f]")
# After the run, how long output still in the pipes is read when a survivor keeps them open.
_DRAIN_S = 1.0


def truncate_middle(text: str, limit: int) -> str:
    """Keep the head and tail of text within about limit characters, with a marker between."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    dropped = len(text) - head - tail
    return f"{text[:head]}\n... [{dropped} characters omitted] ...\n{text[-tail:]}"


def clean_output(text: str) -> str:
    """Script output fit for a prompt: carriage returns as newlines, no escape sequences or control bytes."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _ESCAPES.sub("", text)


# The last line of an error report: SyntaxError: ..., pkg.CustomError: ...
_ERROR_LINE = re.compile(r"^(?:\w+\.)*\w*(?:Error|Exception)\b", re.MULTILINE)


def last_traceback(stderr: str) -> str | None:
    """The last Python traceback block in stderr, through the end of the text.

    A script that does not compile reports its SyntaxError without the "Traceback" head (just File, line,
    caret, error); it counts too, or a cut-off coder reply would never reach the debugger.
    """
    index = stderr.rfind(_TRACEBACK_HEAD)
    if index < 0:
        index = stderr.rfind('  File "')
        if index < 0 or not _ERROR_LINE.search(stderr, index):
            return None
    return stderr[index:].strip() or None


class _Capture:
    """Bounded capture of a stream: keeps the head and a rolling tail."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head: list[str] = []
        self.head_len = 0
        self.tail = ""
        self.dropped = 0

    def add(self, chunk: str) -> None:
        """Append a chunk, dropping the middle once over the limit."""
        room = self.limit // 2 - self.head_len
        if room > 0:
            self.head.append(chunk[:room])
            self.head_len += len(chunk[:room])
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            excess = len(self.tail) - self.limit // 2
            if excess > 0:
                self.dropped += excess
                self.tail = self.tail[excess:]

    def text(self) -> str:
        """Captured text with a marker where the middle was dropped."""
        middle = f"\n... [{self.dropped} characters omitted] ...\n" if self.dropped else ""
        return "".join(self.head) + middle + self.tail


class OutputCapture:
    """Reads a child's stdout and stderr in threads, bounded, until EOF or until finish() gives up on a
    pipe that a surviving process keeps open (a blocked read could never be interrupted by close)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.streams = {"stdout": _Capture(_CAPTURE_CHARS), "stderr": _Capture(_CAPTURE_CHARS)}
        self.combined = _Capture(_CAPTURE_CHARS)
        self.pipes = [proc.stdout, proc.stderr]
        self.threads = [
            threading.Thread(target=self._pump, args=(pipe.fileno(), name), daemon=True)
            for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
            if pipe is not None
        ]
        for thread in self.threads:
            thread.start()

    def _pump(self, fd: int, name: str) -> None:
        # The incremental decoder keeps a character split across two reads whole.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        deadline = None
        while True:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if self.stop.is_set():
                deadline = deadline or time.monotonic() + _DRAIN_S
                if not ready or time.monotonic() > deadline:
                    break
            if not ready:
                continue
            data = os.read(fd, 65536)
            text = decoder.decode(data, final=not data)
            if text:
                with self.lock:
                    self.streams[name].add(text)
                    self.combined.add(text)
            if not data:
                break

    def finish(self) -> None:
        """Drain what is left in the pipes, then close them."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=_DRAIN_S + 5)
        for pipe in self.pipes:
            if pipe is not None:
                pipe.close()

    def texts(self) -> tuple[str, str, str]:
        """(stdout, stderr, both interleaved), cleaned for a prompt."""
        with self.lock:
            parts = (self.streams["stdout"].text(), self.streams["stderr"].text(), self.combined.text())
        return clean_output(parts[0]), clean_output(parts[1]), clean_output(parts[2])
