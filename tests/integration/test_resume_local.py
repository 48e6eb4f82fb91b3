"""SIGKILL a real CLI run (local models) mid-way, resume it, and check the trace and the ledger agree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from budgetmlagent.runtime.run_folder import read_trace

pytestmark = pytest.mark.integration

TITANIC = Path(__file__).resolve().parents[2] / "benchmarks" / "tasks" / "titanic"
CLI = [sys.executable, "-m", "budgetmlagent.cli"]


def test_sigkilled_run_resumes_to_completion_with_a_consistent_trace(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = os.environ | {"BUDGETMLAGENT_CACHE_DIR": str(tmp_path / "cache"), "BUDGETMLAGENT_MEMORY_DIR": str(tmp_path)}
    # recipes_first off: the models' steps (a recipe step calls no model that the kill could land in)
    args = ["run", str(TITANIC), "--max-steps", "2", "--out", str(run_dir), "--set", "code_output_tokens=1200",
            "--set", "recipes_first=false"]  # fmt: skip
    proc = subprocess.Popen([*CLI, *args], env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    try:  # kill it once step 1 is done and step 2's first model call has been paid for
        while time.monotonic() < deadline and proc.poll() is None:
            trace = read_trace(run_dir)
            if any(r["type"] == "llm_call" and r.get("step") == 2 for r in trace):
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (run_dir / "result.json").exists()

    resumed = subprocess.run([*CLI, "resume", str(run_dir), "--json"], env=env, capture_output=True, text=True,
                             timeout=900, check=False)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stderr
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] in ("step_cap", "final_answer") and result["score"] is not None
    trace = read_trace(run_dir)
    steps = [r["step"] for r in trace if r["type"] == "step"]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) == result["steps"]
    per_model: dict[str, int] = defaultdict(int)
    for call in (r for r in trace if r["type"] == "llm_call"):
        per_model[call["model"]] += call["input_tokens"] + call["output_tokens"]
    counted = {m: u["input_tokens"] + u["output_tokens"] for m, u in result["tokens_per_model"].items()}
    assert counted == dict(per_model)  # the ledger and the trace agree after the resume
    assert result["llm_calls"] == sum(1 for r in trace if r["type"] == "llm_call")
    assert (run_dir / "workspace" / "train.py").exists()
    again = subprocess.run([*CLI, "resume", str(run_dir)], env=env, capture_output=True, text=True, timeout=120,
                           check=False)  # fmt: skip
    assert again.returncode == 0 and "already finished" in again.stderr
