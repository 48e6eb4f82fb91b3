"""Environment switches that keep the memory room off the network and quiet."""

import os

# Forced rather than defaulted: the memory must never download a model or report usage, whatever
# the caller's shell says. Hugging Face reads its flags when huggingface_hub is first imported, so
# this runs before sentence_transformers is imported.
_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
}


def force_offline() -> None:
    """Set the environment flags that stop Hugging Face and Chroma from reaching the network."""
    os.environ.update(_OFFLINE_ENV)
    # The executor forks script runs after the tokenizer has been used; without this the fast
    # tokenizer warns and disables its threads in every child.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # transformers draws a "Loading weights" bar on stderr, which would cut through the live display.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
