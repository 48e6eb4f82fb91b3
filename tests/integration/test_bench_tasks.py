"""Every bundled task is fair: its baseline run again does not clear the 10 % bar, its reference does."""

from __future__ import annotations

from pathlib import Path

import pytest

from budgetmlagent.workspace.task_check import TASKS_DIR, reference_check

pytestmark = pytest.mark.integration

# Every bundled task: prepare + baseline + rerun + reference take under a minute each on 2 cores.
FAST_TASKS = [
    "titanic",
    "fashion-mnist",
    "adult-income",
    "ames-house-price",
    "telecom-churn",
    "food-review-sentiment",
    "letter-recognition",
    "movielens-rating",
    "vectorize-conv2d",
    "tiny-gpt-inference",
]


@pytest.mark.parametrize("name", FAST_TASKS)
def test_baseline_fails_the_bar_and_the_reference_passes(name: str, tmp_path: Path) -> None:
    result = reference_check(TASKS_DIR / name, cache_dir=tmp_path / "cache", timeout_s=240)
    assert not result.errors, result.errors
    assert result.baseline is not None and result.rerun is not None and result.reference is not None
    assert not result.rerun_success, f"{name}: the untouched baseline clears the bar ({result})"
    assert result.reference_success, f"{name}: the reference does not clear the bar ({result})"
    print(
        f"{name}: baseline {result.baseline:.4g}, rerun {result.rerun:.4g}, reference {result.reference:.4g} "
        f"({result.reference_improvement:+.1%})"
    )
