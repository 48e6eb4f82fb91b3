"""Crash safety: `kill -9` at random moments of a real CLI run (models on a loopback fake OpenAI server), then
`budgetmlagent resume`: it finishes the run with trace and ledger in agreement, or says honestly that it cannot.
Plus the run folder's writes: atomic JSON, appends a kill cannot tear, and damaged folders refused in one line."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BASELINE_TRAIN
from fake_provider import FakeChatServer
from fakes import code_reply_title, fenced

from budgetmlagent.runtime.durable import CHECKPOINT_FILE, INTERRUPTED_TRACE
from budgetmlagent.runtime.run_folder import append_line, read_trace, write_json

MODEL = "openai:gpt-4o-mini"  # priced, so every call has dollars that must be counted exactly once
PROMPT_TOKENS, COMPLETION_TOKENS = 1_000, 100
MAX_STEPS = 8
KILLS = 5
PAID_CALL_KILL = 2  # which of the kills waits for a paid call instead of a random moment
SEED = 20241107
_STEP = re.compile(r"Step (\d+) of \d+")


def plan(name: str, **action_input: Any) -> str:
    return json.dumps(
        {
            "reflection": "noted",
            "research_plan_and_status": "1. look 2. edit 3. run",
            "fact_check": "none",
            "thought": f"now {name}",
            "action": {"name": name, "input": action_input},
        }
    )


class ScriptedOpenAI(FakeChatServer):
    """Answers by what is asked, not by arrival order, so a killed call asked again gets the same answer.

    The planner's reply depends on the step number in its prompt (look, edit, run, ...); the coder and the
    debugger write a version of train.py whose score rises with each edit they are asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.completions = 0

    def _completion(self, payload: dict[str, Any], *_: Any, **__: Any) -> dict[str, Any]:
        messages = payload.get("messages", [])
        schema = (payload.get("response_format") or {}).get("json_schema", {}).get("name", "")
        schema = schema or code_reply_title(str(messages[0].get("content", "")) if messages else "")
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        with self._lock:
            self.completions += 1
            nth = self.completions
        content = self._answer(schema, prompt, nth)
        return {
            "id": f"chatcmpl-{nth}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(payload.get("model", "fake")),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }

    @staticmethod
    def _answer(schema: str, prompt: str, nth: int) -> str:
        if schema == "PlannerReply":
            steps = _STEP.findall(prompt)
            step = int(steps[-1]) if steps else 1
            return [
                plan("List Files", dir_path="."),
                plan(
                    "Edit Script (AI)",
                    script_name="train.py",
                    edit_instruction=f"raise the score (step {step})",
                    save_name="train.py",
                ),
                plan("Execute Script", script_name="train.py"),
            ][(step - 1) % 3]
        code = BASELINE_TRAIN.replace("score = 0.5", f"score = {0.6 + nth / 1000:.3f}")
        if schema == "FixReply":
            return fenced({"diagnosis": "fixed", "code": code})
        if schema == "CodeReply":
            return fenced({"summary": "raised the score", "code": code})
        if schema == "AdviceReply":
            return json.dumps({"advice": "edit train.py"})
        return json.dumps({"answer": "fine"})


@pytest.fixture
def fake_openai() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as server:
        yield server


def cli_env(server: ScriptedOpenAI, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUDGETMLAGENT_", "OPENAI_", "GOOGLE_"))}
    return env | {
        "OPENAI_API_KEY": "sk-fake",
        "OPENAI_BASE_URL": server.base_url(),  # the openai SDK's own variable: `openai:` specs reach the fake
        "NO_PROXY": "127.0.0.1,localhost",
        "BUDGETMLAGENT_CACHE": str(tmp_path / "cache"),
        "PYTHONUNBUFFERED": "1",
    }


def run_args(task: Path, run_dir: Path) -> list[str]:
    return [
        "run", str(task), "--preset", f"single:{MODEL}", "--max-steps", str(MAX_STEPS), "--no-retrieval",
        "--script-timeout", "60", "--out", str(run_dir),
    ]  # fmt: skip


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The CLI in its own process group (a kill takes the scripts it runs too), stderr to `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "budgetmlagent.cli", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )


def trace_length(run_dir: Path) -> int:
    path = run_dir / "trace.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_when(proc: subprocess.Popen[bytes], run_dir: Path, records: int, jitter_s: float) -> bool:
    """SIGKILL the process group once the trace holds `records` lines (plus a jitter); False if it ended first."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and trace_length(run_dir) < records and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(jitter_s)
    if proc.poll() is not None:
        return False
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def kill_after_a_paid_call(proc: subprocess.Popen[bytes], run_dir: Path) -> bool:
    """SIGKILL the moment a new coder call appears in the trace: paid, but its step not yet checkpointed."""
    seen = sum(r.get("role") == "coder" for r in read_trace(run_dir) if r["type"] == "llm_call")
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        calls = [r for r in read_trace(run_dir) if r["type"] == "llm_call" and r.get("role") == "coder"]
        if len(calls) > seen:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    return False


def assert_honest(returncode: int, err: str) -> None:
    """A command that was not killed either succeeded or said why it could not, on one `error:` line."""
    assert "Traceback" not in err, err
    if returncode != 0:
        assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1, err


def assert_consistent(run_dir: Path) -> dict[str, Any]:
    """The finished run's result.json agrees with its trace: steps 1..n, each recorded call counted once."""
    result = json.loads((run_dir / "result.json").read_text())
    trace = read_trace(run_dir)
    steps = [r["step"] for r in trace if r["type"] == "step"]
    assert steps == list(range(1, result["steps"] + 1)), steps
    calls = [r for r in trace if r["type"] == "llm_call"]
    interrupted = [r for r in read_trace(run_dir, INTERRUPTED_TRACE) if r["type"] == "llm_call"]
    assert len(calls) == result["llm_calls"] and len(interrupted) == result["interrupted_llm_calls"]
    usage = result["tokens_per_model"][MODEL]
    assert usage["calls"] == len(calls)
    assert usage["input_tokens"] == sum(r["input_tokens"] for r in calls)
    assert usage["output_tokens"] == sum(r["output_tokens"] for r in calls)
    assert result["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in calls + interrupted))
    return result


@pytest.mark.adversarial("crash")
def test_kill_9_at_random_moments_then_resume_finishes_a_consistent_run(
    tiny_task: Path, tmp_path: Path, fake_openai: ScriptedOpenAI
) -> None:
    env = cli_env(fake_openai, tmp_path)
    run_dir = tmp_path / "run"
    rng = random.Random(SEED)
    proc = start(run_args(tiny_task, run_dir), env, tmp_path / "first.log")
    killed_at: list[int] = []
    for kill in range(KILLS):
        if kill == PAID_CALL_KILL:  # right after a call is paid for and recorded, before its step is saved
            landed = kill_after_a_paid_call(proc, run_dir)
        else:
            # A seeded few more trace lines (a line is a call, a script run or a step; a step writes about four)
            # and a jitter that lands the kill inside a call, a script run, a checkpoint or the resume's start.
            target = trace_length(run_dir) + rng.randint(0, 4)
            landed = kill_when(proc, run_dir, target, jitter_s=rng.uniform(0, 0.25))
        if not landed:
            break  # it finished before this moment came
        killed_at.append(trace_length(run_dir))
        proc = start(["resume", str(run_dir)], env, tmp_path / f"resume{kill}.log")
    returncode = proc.wait(timeout=120)
    err = "".join(log.read_text() for log in sorted(tmp_path.glob("*.log")))
    assert_honest(returncode, err)
    assert returncode == 0 and len(killed_at) >= 3, (killed_at, err)  # the kills landed inside the run
    result = assert_consistent(run_dir)
    assert result["status"] == "step_cap" and result["steps"] == MAX_STEPS, (killed_at, result)
    assert result["success"] is True  # the edits were measured and the run ended on the best one
    # Never counted twice: the run claims at most the calls the server answered; at most one per kill (answered
    # just before it, its record never written) is the one thing it cannot know.
    claimed = result["llm_calls"] + result["interrupted_llm_calls"]
    assert fake_openai.completions - len(killed_at) <= claimed <= fake_openai.completions


@pytest.mark.adversarial("crash")
def test_a_run_killed_before_its_first_checkpoint_says_so(
    tiny_task: Path, tmp_path: Path, fake_openai: ScriptedOpenAI
) -> None:
    env = cli_env(fake_openai, tmp_path)
    run_dir = tmp_path / "run"
    proc = start(run_args(tiny_task, run_dir), env, tmp_path / "first.log")
    deadline = time.monotonic() + 60
    while not (run_dir / CHECKPOINT_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # the checkpoint file exists, its first checkpoint does not yet
    proc.wait()
    resumed = subprocess.run(
        [sys.executable, "-m", "budgetmlagent.cli", "resume", str(run_dir)], env=env, capture_output=True, text=True
    )
    assert_honest(resumed.returncode, resumed.stderr)
    if resumed.returncode == 0:  # the kill came late after all: the resume must then have finished it properly
        assert_consistent(run_dir)
    else:
        assert "nothing to resume" in resumed.stderr and "budgetmlagent run" in resumed.stderr


def saved_run(tmp_path: Path) -> Path:
    """A run folder with a real first checkpoint (prepare done), built in-process on scripted models."""
    from fakes import ScriptedModels
    from langgraph.checkpoint.sqlite import SqliteSaver

    from budgetmlagent.graph import Context, build_graph
    from budgetmlagent.runtime.durable import open_checkpointer, thread_config

    class StopAfterPrepare(BaseException):
        pass

    class Saver(SqliteSaver):
        def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
            saved = super().put(config, checkpoint, metadata, new_versions)
            if metadata.get("step", -1) >= 1:
                raise StopAfterPrepare
            return saved

    task = tmp_path / "task"
    (task / "env").mkdir(parents=True)
    (task / "scripts").mkdir()
    (task / "env" / "train.py").write_text(BASELINE_TRAIN)
    (task / "scripts" / "eval.py").write_text(
        "from pathlib import Path\n\n\ndef get_score(f):\n    return float((Path(f) / 'submission.csv').read_text())\n"
    )
    (task / "scripts" / "research_problem.txt").write_text("Improve the score.")
    run_dir = tmp_path / "run"
    ctx = Context(
        preset=f"single:{MODEL}", use_retrieval=False, cache_dir=str(tmp_path / "cache"),
        chat_model_factory=ScriptedModels({}),
    )  # fmt: skip
    saver = open_checkpointer(run_dir)
    with pytest.raises(StopAfterPrepare):
        build_graph(checkpointer=Saver(saver.conn, serde=saver.serde)).invoke(
            {"task_dir": str(task), "run_dir": str(run_dir)}, context=ctx, config=thread_config(100), durability="sync"
        )
    saver.conn.close()
    return run_dir


def damage_checkpoints(run_dir: Path) -> None:
    (run_dir / CHECKPOINT_FILE).write_bytes(b"this is not a database" * 100)


def damage_config(run_dir: Path) -> None:
    (run_dir / "config.json").write_text('{"preset": "single:openai:gpt-4o-')  # torn mid-write by an old version


def lose_config(run_dir: Path) -> None:
    (run_dir / "config.json").unlink()


def bad_model_in_config(run_dir: Path) -> None:
    config = json.loads((run_dir / "config.json").read_text())
    write_json(run_dir / "config.json", config | {"preset": "single:gpt-9"})


DAMAGE = {
    "checkpoints not a database": (damage_checkpoints, "is unreadable", 1),
    "config.json torn": (damage_config, "config.json is damaged", 1),
    "config.json lost": (lose_config, "lost its config.json", 1),
    "config.json names a bad model": (bad_model_in_config, "invalid model spec 'gpt-9'", 2),
    "key missing at resume": (lambda run_dir: None, "OPENAI_API_KEY (for openai:gpt-4o-mini)", 2),
}


@pytest.mark.adversarial("crash")
@pytest.mark.parametrize("case", list(DAMAGE))
def test_resume_refuses_a_damaged_run_folder_in_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from budgetmlagent.cli import main

    run_dir = saved_run(tmp_path)
    damage, says, exit_code = DAMAGE[case]
    damage(run_dir)
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    before = sorted(p.name for p in run_dir.iterdir())
    assert main(["resume", str(run_dir)]) == exit_code
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert line.startswith("error:") and says in line
    assert sorted(p.name for p in run_dir.iterdir()) == before  # a refused resume changes nothing


@pytest.mark.adversarial("crash")
def test_an_exception_inside_a_run_keeps_the_folder_and_says_so(
    tiny_task: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a node is not a traceback: one line, result.json saying the error, and a folder resume can use."""
    from budgetmlagent.cli import main

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a node broke")

    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    monkeypatch.setattr("budgetmlagent.runtime.llm.chat_model", broken)  # the planner's first call fails
    run_dir = tmp_path / "run"
    args = [*run_args(tiny_task, run_dir), "--set", f"cache_dir={tmp_path / 'cache'}"]
    assert main(args) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "RuntimeError: a node broke" in lines[0] and "budgetmlagent resume" in lines[0]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "error" and "a node broke" in result["error"] and result["resumable"]
    assert "Traceback" in (run_dir / "error.log").read_text()
    assert (run_dir / CHECKPOINT_FILE).is_file() and (run_dir / "config.json").is_file()


@pytest.mark.adversarial("crash")
def test_write_json_is_atomic_under_a_failing_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "result.json"
    write_json(path, {"status": "running"})

    def disk_full(self: Path, *args: Any, **kwargs: Any) -> int:
        Path.write_bytes(self, b'{"status": "fin')  # half a file, then the failure
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError):
        write_json(path, {"status": "finished"})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"status": "running"}  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary left behind


@pytest.mark.adversarial("crash")
def test_a_torn_trace_line_spoils_only_itself(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    trace.write_text('{"type": "start"}\n{"type": "llm_call", "cost_u')  # a writer killed mid-line
    append_line(trace, json.dumps({"type": "step", "step": 1}))
    assert [r["type"] for r in read_trace(tmp_path)] == ["start", "step"]
    trace.write_text(trace.read_text() + '42\n"a string"\n\x00\xff\n')  # lines that are JSON but no record
    assert [r["type"] for r in read_trace(tmp_path)] == ["start", "step"]


@pytest.mark.adversarial("crash")
def test_a_resume_killed_while_setting_records_aside_counts_them_once(tmp_path: Path) -> None:
    from budgetmlagent.runtime.durable import trim_trace

    records = [{"type": "start"}, {"type": "llm_call", "step": 1, "cost_usd": 1.0}, {"type": "step", "step": 1}]
    records += [{"type": "llm_call", "step": 2, "cost_usd": 2.0}]
    text = "".join(json.dumps(r) + "\n" for r in records)
    (tmp_path / "trace.jsonl").write_text(text)
    trim_trace(tmp_path, steps_done=1, calls_done=1)
    (tmp_path / "trace.jsonl").write_text(text)  # as if killed after the set-aside, before the trace's rewrite
    trim_trace(tmp_path, steps_done=1, calls_done=1)
    assert [r["cost_usd"] for r in read_trace(tmp_path, INTERRUPTED_TRACE)] == [2.0]
