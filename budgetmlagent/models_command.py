"""`budgetmlagent models` commands: list, install and smoke-test the local models."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SMOKE_PROMPT = (
    "A tabular classification baseline (logistic regression on 3 numeric columns) scores 0.72 accuracy. "
    "Suggest the single most promising next experiment."
)


def add_models_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `models`, `models install [NAME ...]` and `models smoke [NAME]`."""
    p = sub.add_parser(
        "models",
        help="list, install and smoke-test local models",
        description="Local GGUF models: status table (default), install, smoke test.",
    )
    p.add_argument(
        "--catalogue",
        type=Path,
        default=None,
        help="extra catalogue TOML merged over the built-in one (else $BUDGETMLAGENT_CATALOGUE)",
    )
    # Its own dest: a subcommand's --json (default False) would otherwise overwrite `models --json install`.
    p.add_argument("--json", dest="models_json", action="store_true", help="print the table as one JSON document")
    p.set_defaults(handler=_cmd_list)
    msub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    inst = msub.add_parser("install", help="fetch, assemble and verify models (default: all built-in)")
    inst.add_argument("names", nargs="*", metavar="NAME", help="catalogue names to install (default: all built-in)")
    inst.add_argument("--force", action="store_true", help="reinstall even if verified")
    inst.add_argument(
        "--json", action="store_true", help="print what was installed and what failed as one JSON document"
    )
    inst.set_defaults(handler=_cmd_install)
    smoke = msub.add_parser("smoke", help="start a model server and get one structured reply")
    smoke.add_argument(
        "name", nargs="?", default=None, metavar="NAME", help="catalogue name of the model (default: the local base)"
    )
    smoke.add_argument(
        "--threads", type=int, default=None, help="llama.cpp threads (default $BUDGETMLAGENT_THREADS or 2)"
    )
    smoke.add_argument("--max-tokens", type=int, default=256, help="cap on the reply's tokens (default 256)")
    smoke.add_argument("--json", action="store_true", help="print the reply and its speed as one JSON document")
    smoke.set_defaults(handler=_cmd_smoke)


def _as_json(args: argparse.Namespace) -> bool:
    """--json given to `models` or to its subcommand."""
    return bool(getattr(args, "json", False) or getattr(args, "models_json", False))


def _print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))


def _use_catalogue(args: argparse.Namespace) -> None:
    import os

    from budgetmlagent.providers.catalogue import CATALOGUE_ENV

    # Through the environment so the server registry and chat models, which load the catalogue
    # themselves, see the same entries.
    if getattr(args, "catalogue", None) is not None:
        os.environ[CATALOGUE_ENV] = str(args.catalogue.expanduser().resolve())


def _human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from budgetmlagent.providers.catalogue import CatalogueError, load_catalogue, models_dir, verify_model

    _use_catalogue(args)
    try:
        cat = load_catalogue()
    except CatalogueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    statuses = [(name, verify_model(name, cat)) for name in cat]
    if _as_json(args):
        _print_json(
            {
                "models_dir": str(models_dir()),
                "models": [
                    {
                        "name": name,
                        "source": st.source,
                        "installed": st.installed,
                        "verified": st.verified,
                        "detail": st.detail,
                        "size": st.size or cat[name].size,
                        "path": str(st.path),
                    }
                    for name, st in statuses
                ],
            }
        )
        return 0
    table = Table(title=f"local models (dir: {models_dir()})")
    for col in ("name", "source", "installed", "verified", "size", "path"):
        table.add_column(col, overflow="fold", no_wrap=col in ("name", "installed", "size"))
    for name, st in statuses:
        verified = {True: "yes", False: f"NO: {st.detail}", None: "-" if not st.installed else "unpinned"}
        table.add_row(
            name,
            st.source,
            "yes" if st.installed else "no",
            verified[st.verified],
            _human_size(st.size or cat[name].size),
            str(st.path),
        )
    console = Console()
    # Piped output defaults to 80 columns, which folds every path; allow a wider table.
    Console(width=max(console.width, 140)).print(table)
    return 0


def _cmd_install(args: argparse.Namespace) -> int:
    from budgetmlagent.providers.catalogue import (
        BUILTIN_CATALOGUE,
        CatalogueError,
        ModelCorruptError,
        ModelInstallError,
        ModelNotInstalledError,
        install_model,
        load_catalogue,
    )

    _use_catalogue(args)
    try:
        cat = load_catalogue()
        import tomllib

        builtin = list(tomllib.loads(BUILTIN_CATALOGUE.read_text(encoding="utf-8"))["models"])
        names = args.names or builtin
        installed: dict[str, str] = {}
        failed: dict[str, str] = {}
        for name in names:
            try:
                # Progress is a note (stderr); what ended up installed is the result (stdout).
                path = install_model(name, catalogue=cat, force=args.force, log=lambda m: print(m, file=sys.stderr))
                installed[name] = str(path)
            except (ModelInstallError, ModelCorruptError, ModelNotInstalledError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed[name] = str(exc)
    except CatalogueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if _as_json(args):
        _print_json({"installed": installed, "failed": failed})
    else:
        for name, path in installed.items():
            print(f"{name}: {path}")
    return 1 if failed else 0


def _smoke_schema() -> type[Any]:
    from pydantic import BaseModel, Field

    from budgetmlagent.providers.chat import bounded_str

    class SmokeReply(BaseModel):
        """What the smoke test asks the model for."""

        experiment: bounded_str(160) = Field(description="the next experiment, one sentence")  # type: ignore[valid-type]
        expected_gain: float = Field(ge=0, le=1, description="expected accuracy gain, 0..1")
        steps: list[bounded_str(80)] = Field(max_length=3)  # type: ignore[valid-type]

    return SmokeReply


def _cmd_smoke(args: argparse.Namespace) -> int:
    import time

    from langchain_core.messages import HumanMessage, SystemMessage

    from budgetmlagent.providers.catalogue import (
        DEFAULT_LOCAL_MODEL,
        CatalogueError,
        ModelCorruptError,
        ModelNotInstalledError,
    )
    from budgetmlagent.providers.chat import invoke_structured, load_chat_model
    from budgetmlagent.providers.errors import ProviderError
    from budgetmlagent.providers.local_server import LocalServerError, get_server, metrics_delta, stop_all

    _use_catalogue(args)
    name = args.name or DEFAULT_LOCAL_MODEL
    try:
        t0 = time.perf_counter()
        server = get_server(name, threads=args.threads)
        ready_s = time.perf_counter() - t0
        print(f"server {name}: {server.base_url} (threads={server.threads}, ready in {ready_s:.1f} s)", file=sys.stderr)
        model = load_chat_model(f"local:{name}", max_tokens=args.max_tokens, temperature=0.0)
        messages = [SystemMessage("You are an ML engineer. Answer in JSON."), HumanMessage(SMOKE_PROMPT)]
        print(f"prompt: {SMOKE_PROMPT}", file=sys.stderr)
        before = server.metrics()
        reply = invoke_structured(model, _smoke_schema(), messages)
        speed = metrics_delta(before, server.metrics())
    except (CatalogueError, ModelNotInstalledError, ModelCorruptError, LocalServerError, ProviderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all()
    if _as_json(args):
        _print_json(
            {
                "model": name,
                "threads": server.threads,
                "ready_s": round(ready_s, 2),
                "ok": reply.ok,
                "reply": reply.parsed.model_dump() if reply.parsed is not None else None,
                "error": None if reply.parsed is not None else str(reply.error),
                "raw": None if reply.parsed is not None else reply.raw_text[:500],
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "seconds": reply.seconds,
                "prompt_per_second": speed["prompt_per_second"],
                "decode_per_second": speed["decode_per_second"],
            }
        )
        return 0 if reply.ok else 1
    if reply.parsed is not None:
        print(reply.parsed.model_dump_json(indent=2))
    else:
        print(f"reply did not validate: {reply.error}\nraw: {reply.raw_text[:500]}")
    print(
        f"tokens: {reply.input_tokens} in / {reply.output_tokens} out in {reply.seconds:.1f} s; "
        f"prompt {speed['prompt_per_second']:.1f} tok/s, decode {speed['decode_per_second']:.1f} tok/s"
    )
    return 0 if reply.ok else 1
