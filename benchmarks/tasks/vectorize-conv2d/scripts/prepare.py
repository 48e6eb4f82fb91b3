"""Time the original loop implementation once on this machine and store it in scripts/answer.json.

scripts/original_train.py is a trusted, unchanged copy of env/train.py. eval.py runs it on the hidden
inputs to get the expected outputs and times it alongside the workspace's version; the seconds measured
here fix the scale of the score (see eval.py).
"""

import hashlib
import json
import time
from pathlib import Path

import original_train

# The hidden inputs the score uses: other seeds than the one train.py times.
EVAL_SEEDS = [101, 102, 103, 104, 105]


def main() -> None:
    here = Path(__file__).resolve().parent
    times = []
    for seed in EVAL_SEEDS:
        x, weight, bias = original_train.make_inputs(seed)
        start = time.perf_counter()
        original_train.conv2d_forward(x, weight, bias, stride=original_train.STRIDE, padding=original_train.PADDING)
        times.append(time.perf_counter() - start)
    answer = {
        "source_sha256": hashlib.sha256((here / "original_train.py").read_bytes()).hexdigest(),
        "eval_seeds": EVAL_SEEDS,
        "original_seconds": min(times),
    }
    (here / "answer.json").write_text(json.dumps(answer, indent=1), encoding="utf-8")
    print(f"original conv2d_forward: {answer['original_seconds']:.4f} s per call")


if __name__ == "__main__":
    main()
