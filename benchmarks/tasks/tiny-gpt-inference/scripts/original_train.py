"""Greedy text generation with a small GPT (random weights fixed by a seed), timed in tokens per second.

Running this script builds the model, generates N_NEW tokens after a fixed prompt and prints the speed.
"""

import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

VOCAB_SIZE = 512
CONTEXT_LENGTH = 256
D_MODEL = 128
N_HEADS = 4
N_LAYERS = 4
SEED = 0
PROMPT_LENGTH = 32
N_NEW = 200
REPEATS = 3


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.proj = nn.Linear(D_MODEL, D_MODEL)

    def forward(self, x):
        batch, length, _ = x.shape
        q, k, v = self.qkv(x).split(D_MODEL, dim=2)
        # (batch, heads, length, head_dim)
        q, k, v = (t.view(batch, length, N_HEADS, D_MODEL // N_HEADS).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(D_MODEL // N_HEADS)
        mask = torch.ones(length, length, dtype=torch.bool).tril()
        scores = scores.masked_fill(~mask, float("-inf"))
        out = F.softmax(scores, dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(batch, length, D_MODEL))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D_MODEL)
        self.attn = CausalSelfAttention()
        self.ln2 = nn.LayerNorm(D_MODEL)
        self.mlp = nn.Sequential(nn.Linear(D_MODEL, 4 * D_MODEL), nn.GELU(), nn.Linear(4 * D_MODEL, D_MODEL))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB_SIZE, D_MODEL)
        self.position_embedding = nn.Embedding(CONTEXT_LENGTH, D_MODEL)
        self.blocks = nn.ModuleList(Block() for _ in range(N_LAYERS))
        self.ln_f = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, VOCAB_SIZE, bias=False)

    def forward(self, ids):
        """Logits (batch, length, vocab) for token ids (batch, length)."""
        positions = torch.arange(ids.shape[1])
        x = self.token_embedding(ids) + self.position_embedding(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def build_model(seed=SEED):
    """The model with its random weights, which depend only on the seed."""
    torch.manual_seed(seed)
    return TinyGPT().eval()


def generate(model, prompt_ids, n_new):
    """Greedily generate n_new tokens after prompt_ids; returns the new token ids as a list of ints.

    The prompt and the new tokens together never exceed CONTEXT_LENGTH.
    """
    ids = torch.tensor([list(prompt_ids)], dtype=torch.long)
    with torch.no_grad():
        for _ in range(n_new):
            # The whole sequence goes through the model again for every new token.
            logits = model(ids)
            next_id = logits[0, -1].argmax()
            ids = torch.cat([ids, next_id.view(1, 1)], dim=1)
    return ids[0, len(prompt_ids) :].tolist()


def main():
    torch.set_num_threads(1)
    model = build_model(SEED)
    prompt = torch.randint(VOCAB_SIZE, (PROMPT_LENGTH,), generator=torch.Generator().manual_seed(1)).tolist()
    generate(model, prompt, 8)  # warm-up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        tokens = generate(model, prompt, N_NEW)
        times.append(time.perf_counter() - start)
    print(f"First generated tokens: {tokens[:10]}")
    print(f"Validation tokens per second: {N_NEW / statistics.median(times):.2f}")


if __name__ == "__main__":
    main()
