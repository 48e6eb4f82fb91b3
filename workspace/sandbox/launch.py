"""Starting the prelude: its text (prelude.py, read once), the config it reads, and the argv that runs it.

Both the namespace probes and every script run start the child as
`[unshare prefix] python -I -S -c PRELUDE CONFIG_FD ARGV...`; the config travels in an unlinked temp file.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

# The child-side program, passed to `python -c` as text: it is never imported here (see its docstring).
PRELUDE = Path(__file__).with_name("prelude.py").read_text(encoding="utf-8")
# From here after a timeout: SIGTERM, then SIGKILL after this grace (the supervisor kills after half of it).
TERM_GRACE_S = 2.0
# Capabilities a script keeps as root (Docker's default set without MKNOD); all others leave its bounding set.
KEPT_CAPABILITIES = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 13, 18, 29, 31})


def prelude_config(
    *,
    mounts: bool,
    init: bool,
    hide: Sequence[tuple[str, list[str]]] = (),
    read_only: Sequence[str] = (),
    max_pids: int | None = None,
    status_fd: int | None = None,
) -> dict[str, object]:
    """What the prelude does; it reads this from an inherited file, which has no size limit."""
    return {
        "mounts": mounts,
        "init": init,
        "keep_caps": sorted(KEPT_CAPABILITIES),
        "grace_s": TERM_GRACE_S / 2,
        "hide": list(hide),
        "read_only": list(read_only),
        "max_pids": max_pids,
        "status_fd": status_fd,
    }


@contextlib.contextmanager
def config_file(config: dict[str, object]) -> Iterator[int]:
    """An unlinked temp file holding config as JSON, rewound, for the child to inherit."""
    with tempfile.TemporaryFile() as handle:
        handle.write(json.dumps(config).encode())
        handle.flush()
        handle.seek(0)
        yield handle.fileno()


def prelude_argv(prefix: Sequence[str], config_fd: int, argv: Sequence[str]) -> list[str]:
    """unshare prefix (if any), then the prelude, then the script's argv."""
    return [*prefix, sys.executable, "-I", "-S", "-c", PRELUDE, str(config_fd), *argv]
