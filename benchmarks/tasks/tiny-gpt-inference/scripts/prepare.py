"""Time the original generation code once on this machine and store it in scripts/answer.json.

scripts/original_train.py is a trusted, unchanged copy of env/train.py. eval.py runs it on the hidden
prompts to get the expected tokens and times it alongside the workspace's version; the speed measured
here fixes the scale of the score (see eval.py).
"""

import hashlib
import json
import time
from pathlib import Path

import torch

import original_train

# The hidden prompts the score uses: other seeds than the prompt train.py times.
PROMPT_SEEDS = [101, 102, 103, 104, 105]


def prompt(seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(original_train.VOCAB_SIZE, (original_train.PROMPT_LENGTH,), generator=generator).tolist()


def main() -> None:
    here = Path(__file__).resolve().parent
    torch.set_num_threads(1)
    model = original_train.build_model(original_train.SEED)
    prompts = [prompt(seed) for seed in PROMPT_SEEDS]
    original_train.generate(model, prompts[0][:8], 8)  # warm-up
    times = []
    for ids in prompts:
        start = time.perf_counter()
        original_train.generate(model, ids, original_train.N_NEW)
        times.append(time.perf_counter() - start)
    answer = {
        "source_sha256": hashlib.sha256((here / "original_train.py").read_bytes()).hexdigest(),
        "seed": original_train.SEED,
        "n_new": original_train.N_NEW,
        "prompts": prompts,
        "original_tokens_per_second": original_train.N_NEW / min(times),
    }
    (here / "answer.json").write_text(json.dumps(answer), encoding="utf-8")
    print(f"original generate: {answer['original_tokens_per_second']:.1f} tokens per second")


if __name__ == "__main__":
    main()
