"""Cold vs warm latency of a long shared prompt prefix on a local model (llama.cpp KV-cache reuse).

Each repetition uses a fresh prefix (cold: every token computed), then the same prefix with another
question (warm: only the new tokens computed). Requests go straight to the managed server so the
numbers are llama.cpp's own, without client overhead. With --interleave, two roles' prompts (a planner's and a
coder's, each with its own prefix) alternate on one server, as they do when the cascade sends both to the 1.5B;
--slots sets the server's parallel slots (and n_ctx, 4096 per slot) to compare one slot with two. Usage:

    .venv/bin/python benchmarks/bench_prefix_cache.py [--model qwen2.5-coder-0.5b] [--reps 3]
    .venv/bin/python benchmarks/bench_prefix_cache.py --interleave --slots 1   # then --slots 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from typing import Any

from budgetmlagent.providers.catalogue import DEFAULT_LOCAL_MODEL, ensure_model, get_model
from budgetmlagent.providers.local_server import LocalServer, get_server, stop_all


def make_prefix(rep: int, columns: int) -> str:
    """Task context of roughly 30 tokens per column; `rep` makes every repetition's prefix new."""
    rows = "\n".join(
        f"- column f{i:02d}: numeric, mean {i * 1.7 + rep:.1f}, std {i * 0.3 + 1:.1f}, {i % 7} % missing"
        for i in range(columns)
    )
    return (
        f"Run {rep}. You are the planner of an ML agent improving a tabular classifier's F1 score "
        f"by more than 10 %. Columns:\n{rows}\n"
    )


def timed_call(server: LocalServer, prefix: str, question: str, max_tokens: int) -> dict[str, Any]:
    """One chat request; wall seconds plus llama.cpp's prompt/decode counts."""
    payload = {
        "messages": [{"role": "system", "content": prefix}, {"role": "user", "content": question}],
        "max_completion_tokens": max_tokens,
        "temperature": 0.0,
    }
    t0 = time.perf_counter()
    reply = server.chat_raw(payload, timeout_s=600)
    seconds = time.perf_counter() - t0
    timings = reply.get("timings", {})
    return {
        "seconds": seconds,
        "prompt_tokens": reply["usage"]["prompt_tokens"],
        "computed": timings.get("prompt_n", 0),
        "cached": timings.get("cache_n", 0),
        "prompt_tps": timings.get("prompt_per_second", 0.0),
        "decode_tps": timings.get("predicted_per_second", 0.0),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (and JSON with --json)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_LOCAL_MODEL)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--columns", type=int, default=60, help="prefix size: ~30 tokens per column (60 = ~1.8k)")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--json", action="store_true", help="also print the raw measurements as JSON")
    ap.add_argument("--interleave", action="store_true", help="two roles' prompts alternate: A, B, A again, B again")
    ap.add_argument("--slots", type=int, default=None, help="the server's n_parallel (default: the catalogue's)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    if args.slots is None:
        server = get_server(args.model, threads=args.threads)
    else:
        settings = dataclasses.replace(get_model(args.model).server, n_parallel=args.slots, n_ctx=4096 * args.slots)
        path = ensure_model(args.model, install=False)
        server = LocalServer(args.model, path, threads=args.threads, settings=settings)
        server.start()
    load_s = time.perf_counter() - t0
    timed_call(server, "warm-up", "Say OK.", 2)  # first-request allocations are not part of either number
    cold, warm = [], []
    try:
        for rep in range(args.reps):
            prefix = make_prefix(rep, args.columns)
            if not args.interleave:
                cold.append(timed_call(server, prefix, "Which column has the largest mean?", args.max_tokens))
                warm.append(timed_call(server, prefix, "Which column misses most values?", args.max_tokens))
                continue
            other = "You are the coder. Rewrite the script below.\n" + make_prefix(rep + 1000, args.columns)
            cold.append(timed_call(server, prefix, "Which column has the largest mean?", args.max_tokens))
            cold.append(timed_call(server, other, "Which column has the largest mean?", args.max_tokens))
            warm.append(timed_call(server, prefix, "Which column misses most values?", args.max_tokens))
            warm.append(timed_call(server, other, "Which column misses most values?", args.max_tokens))
    finally:
        server.stop()
        stop_all()

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(
        f"model {args.model}, threads {server.threads}, slots {server.settings.n_parallel}, load {load_s:.1f} s, "
        f"median of {len(cold)}, max_tokens {args.max_tokens}{', two roles interleaved' if args.interleave else ''}"
    )
    print(
        f"{'':6} {'prompt tok':>10} {'computed':>9} {'cached':>7} {'seconds':>8} {'prompt tok/s':>13} "
        f"{'decode tok/s':>13}"
    )
    for label, runs in (("cold", cold), ("warm", warm)):
        print(
            f"{label:6} {med(runs, 'prompt_tokens'):>10.0f} {med(runs, 'computed'):>9.0f} "
            f"{med(runs, 'cached'):>7.0f} {med(runs, 'seconds'):>8.2f} {med(runs, 'prompt_tps'):>13.1f} "
            f"{med(runs, 'decode_tps'):>13.1f}"
        )
    print(f"speed-up {med(cold, 'seconds') / med(warm, 'seconds'):.1f}x")
    if args.json:
        print(json.dumps({"model": args.model, "threads": server.threads, "cold": cold, "warm": warm}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
