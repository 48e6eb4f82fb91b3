"""Tokens per second of the workspace's generate, timed here on hidden prompts.

The numbers train.py prints are not used. This imports the trusted original (scripts/original_train.py)
and the workspace's train.py as modules (the benchmark of train.py sits under `if __name__ == "__main__":`),
builds both models with build_model(seed) and, three times over the five prompts the workspace has not seen,
calls the original and the workspace's generate in turn (which goes first alternates), requiring exactly the
same tokens (so the weights and the greedy decoding cannot change). Timing uses one torch thread and the
fastest of the fifteen calls, since a busy machine only ever makes a call slower (six scorings of the
untouched script on a 2-core machine: fastest of five original-first calls, 116-131 tokens/s, 13 % apart;
fastest of fifteen alternating, 123-129, 5 % apart). The workspace's speed is then scaled by
original_tokens_per_second (the original's speed when prepare.py ran) / the original's best speed now,
which cancels most of the machine's speed at scoring time: the untouched baseline always scores close to
original_tokens_per_second.
"""

import os

# One OpenMP thread, so the timing depends less on what else runs on the machine.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import contextlib  # noqa: E402
import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = "train.py"
ROUNDS = 3  # passes over the prompts


@contextlib.contextmanager
def _inside(folder):
    """Run with folder as cwd and first on sys.path, as if its script were run from there."""
    old_cwd, old_path = os.getcwd(), list(sys.path)
    os.chdir(folder)
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_answer():
    with open(os.path.join(HERE, "answer.json"), encoding="utf-8") as handle:
        answer = json.load(handle)
    with open(os.path.join(HERE, "original_train.py"), "rb") as handle:
        sha = hashlib.sha256(handle.read()).hexdigest()
    if answer["source_sha256"] != sha:
        raise RuntimeError("scripts/answer.json is stale: delete scripts/prepared and run prepare.py again")
    return answer


def _call(function, *args):
    """Call a workspace function, reporting its failure as a ValueError."""
    try:
        return function(*args)
    except Exception as exc:
        raise ValueError(f"{getattr(function, '__name__', function)} raised {type(exc).__name__}: {exc}") from exc


def _timed(generate, model, prompt, n_new):
    """Tokens and wall-clock seconds of one generate call (with a fresh copy of the prompt)."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    output = _call(generate, model, list(prompt), n_new)
    seconds = time.perf_counter() - start
    if torch.get_num_threads() != 1:
        raise ValueError("generate must not change the number of torch threads (scoring uses one)")
    return output, seconds


def _check(output, expected, k):
    if not isinstance(output, (list, tuple)):
        raise ValueError(f"generate must return a list of ints, but returned {type(output).__name__} (prompt {k})")
    try:
        tokens = [int(token) for token in output]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"generate must return a list of ints (prompt {k}): {exc}") from exc
    if tokens != expected:
        if len(tokens) != len(expected):
            why = f"{len(tokens)} tokens instead of {len(expected)}"
        else:
            first = next(i for i, (a, b) in enumerate(zip(tokens, expected, strict=True)) if a != b)
            why = f"token {first} is {tokens[first]}, the original code gives {expected[first]}"
        raise ValueError(
            f"generate does not reproduce the original model's greedy tokens for prompt {k}: {why} "
            "(the weights from build_model(seed) and the greedy decoding must stay the same)"
        )


def get_score(submission_folder="../env"):
    """New tokens per second of generate at the machine's speed when prepared (higher is better)."""
    answer = _load_answer()
    seed, n_new = answer["seed"], answer["n_new"]
    folder = os.path.abspath(submission_folder)
    path = os.path.join(folder, SCRIPT)
    if not os.path.isfile(path):
        raise ValueError(f"{SCRIPT} is missing from {folder}")
    torch.set_num_threads(1)
    original = _import(os.path.join(HERE, "original_train.py"), "original_train")
    original_model = original.build_model(seed)
    original_times, times = [], []
    with _inside(folder):
        module = _import(path, "workspace_train")
        for name in ("build_model", "generate"):
            if not callable(getattr(module, name, None)):
                raise ValueError(f"{SCRIPT} must define build_model(seed) and generate(model, prompt_ids, n_new)")
        torch.set_num_threads(1)
        model = _call(module.build_model, seed)
        warm_up = answer["prompts"][0][:8]
        original.generate(original_model, warm_up, 8)
        _timed(module.generate, model, warm_up, 8)
        for turn in range(ROUNDS):
            for k, prompt in enumerate(answer["prompts"]):
                original_first = (turn + k) % 2 == 0  # neither side always runs on the warmer cache
                if original_first:
                    expected, seconds = _timed(original.generate, original_model, prompt, n_new)
                    original_times.append(seconds)
                output, seconds = _timed(module.generate, model, prompt, n_new)
                times.append(seconds)
                if not original_first:
                    expected, seconds = _timed(original.generate, original_model, prompt, n_new)
                    original_times.append(seconds)
                _check(output, expected, k)
    return float(answer["original_tokens_per_second"] * min(original_times) / min(times))


if __name__ == "__main__":
    print(get_score())
