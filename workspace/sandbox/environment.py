"""Environment policy: which variables a script sees, and the default limits of a run.

An environment built from an allow-list (ALLOWED_ENV, ALLOWED_ENV_PREFIXES: PATH, locale, TZ, thread
counts, CUDA ..., plus the task's env_allow) with SECRET_PATTERNS as a second filter, so API keys and tokens
never reach a script; HOME and TMPDIR inside the workspace. SANDBOX_MARKER tags every process of a run.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path

SANDBOX_MARKER = "BUDGETMLAGENT_SANDBOX_ID"
# What Python, numpy, torch and scikit-learn read from the environment; everything else is dropped.
ALLOWED_ENV: frozenset[str] = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TZDIR",
        "TERM",
        "PYTHONHASHSEED",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
        "PYTHONWARNINGS",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "CONDA_DEFAULT_ENV",
        "LD_LIBRARY_PATH",
        "NVIDIA_VISIBLE_DEVICES",
        "NVIDIA_DRIVER_CAPABILITIES",
        "PYTORCH_CUDA_ALLOC_CONF",
        "TOKENIZERS_PARALLELISM",
        "HF_HUB_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_HOME",
        "HF_HUB_CACHE",
        "TORCH_HOME",
        "VECLIB_MAXIMUM_THREADS",
        "LOKY_MAX_CPU_COUNT",
        "NUMEXPR_MAX_THREADS",
        "NUMEXPR_NUM_THREADS",
        "XLA_FLAGS",
        "TF_CPP_MIN_LOG_LEVEL",
        "TF_ENABLE_ONEDNN_OPTS",
        "TF_FORCE_GPU_ALLOW_GROWTH",
    }
)
ALLOWED_ENV_PREFIXES: tuple[str, ...] = (
    "LC_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "GOTO_",
    "BLIS_",
    "KMP_",
    "GOMP_",
    "CUDA_",
    "CUBLAS_",
    "CUDNN_",
    "NCCL_",
    "NUMBA_",
    "TORCH_",
)
# The second filter: even an allowed name is dropped when it looks like a key, token or cloud credential.
SECRET_PATTERNS: tuple[str, ...] = (
    "*_API_KEY",
    "*API_KEY*",
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*CREDENTIAL*",
    "GOOGLE_*",
    "GEMINI_*",
    "OPENAI_*",
    "ANTHROPIC_*",
    "AWS_*",
    "AZURE_*",
    "LANGSMITH_*",
    "LANGCHAIN_*",
)
DEFAULT_MAX_PROCESSES = 1024


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name looks like a key, token or credential."""
    return any(fnmatch.fnmatchcase(name.upper(), pattern) for pattern in SECRET_PATTERNS)


def is_allowed_env_name(name: str, extra_allowed: Iterable[str] = ()) -> bool:
    """Whether a variable may reach a script: on the allow-list (or the task's extras) and not secret-like."""
    allowed = name in ALLOWED_ENV or name.startswith(ALLOWED_ENV_PREFIXES) or name in set(extra_allowed)
    return allowed and not is_secret_name(name)


def scrub_env(env: dict[str, str], extra_allowed: Iterable[str] = ()) -> dict[str, str]:
    """Copy of env with only allow-listed variables, none of which looks like an API key or token."""
    extra = set(extra_allowed)
    return {key: value for key, value in env.items() if is_allowed_env_name(key, extra)}


def sandbox_env(workspace_root: Path, extra_allowed: Iterable[str] = ()) -> dict[str, str]:
    """Allow-listed environment with HOME and temp dirs inside the workspace."""
    tmp = workspace_root / ".tmp"
    tmp.mkdir(exist_ok=True)
    env = scrub_env(dict(os.environ), extra_allowed)
    env.update(
        HOME=str(workspace_root),
        TMPDIR=str(tmp),
        TMP=str(tmp),
        TEMP=str(tmp),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        MPLBACKEND="Agg",
    )
    env.setdefault("PATH", os.defpath)
    return env


def cpu_backstop(timeout_s: float) -> float:
    """A CPU-seconds limit that is a backstop only: CPU time adds up across threads, so every core may
    be busy for the whole timeout."""
    return timeout_s * (os.cpu_count() or 1) + 10
