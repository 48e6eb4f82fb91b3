"""The dollar cap is never exceeded: every priced call is bounded before it is made, and refused if its worst
case would cross `budget_usd`; a refusal ends the run cleanly with status "budget"."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import BASELINE_TRAIN, BROKEN_TRAIN, IMPROVED_TRAIN
from fakes import ScriptedModels
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, PrivateAttr
from test_graph_edges import code, edit, plan

from budgetmlagent.graph import Context, build_graph
from budgetmlagent.prompts.replies import AdviceReply, AnswerReply, CodeReply, FixReply, planner_reply_model
from budgetmlagent.providers.ledger import Ledger
from budgetmlagent.providers.pricing import input_token_bound, price_for, worst_case_cost_usd
from budgetmlagent.runtime.durable import INTERRUPTED_TRACE
from budgetmlagent.runtime.limits import limit_reached
from budgetmlagent.runtime.llm import call_structured, estimate_call, message_texts, spent_usd
from budgetmlagent.runtime.run_folder import read_trace
from budgetmlagent.workspace.actions import PLANNER_ACTIONS

PRICED = "openai:gpt-4o"
FREE = "openai_compatible:free@http://127.0.0.1:9/v1"  # $0 in the built-in table
SPECS = [PRICED, "openai:gpt-4o-mini", "openai:gpt-4", "openai:o4-mini", "google_genai:gemini-2.5-flash", FREE]
SCHEMAS: dict[str, type[BaseModel]] = {
    "planner": planner_reply_model(PLANNER_ACTIONS),
    "coder": CodeReply,
    "debugger": FixReply,
    "worker": AnswerReply,
    "expert": AdviceReply,
}
LIST = plan("List Files", dir_path=".")
RUN = plan("Execute Script", script_name="train.py")


# --- a chat model that bills as much as an honest provider can: at most the bound, at most max tokens ---

Usage = Callable[[int, int], tuple[int, int]]  # (input bound, max tokens) -> (input, output) reported


class HonestModel(BaseChatModel):
    """Reports usage inside the caps (input <= the prompt's token bound, output <= max tokens)."""

    spec: str
    max_tokens: int
    _usage: Usage = PrivateAttr()
    _calls: list[str] = PrivateAttr()

    def wire(self, usage: Usage, calls: list[str]) -> HonestModel:
        self._usage, self._calls = usage, calls
        return self

    @property
    def _llm_type(self) -> str:
        return "honest"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        raise AssertionError("structured calls only")

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any) -> Runnable:  # type: ignore[override]
        def run(messages: list[BaseMessage]) -> dict[str, Any]:
            self._calls.append(self.spec)
            bound = input_token_bound(message_texts(messages), json.dumps(schema))
            input_tokens, output_tokens = self._usage(bound, self.max_tokens)
            usage = {"input_tokens": input_tokens, "output_tokens": output_tokens}
            raw = AIMessage(content="{}", usage_metadata=usage | {"total_tokens": input_tokens + output_tokens})
            return {"raw": raw, "parsed": None, "parsing_error": ValueError("not scripted")}

        return RunnableLambda(run)


class HonestModels:
    """A `chat_model_factory` whose next call reports the usage fractions the test drew."""

    def __init__(self) -> None:
        self.fractions: list[tuple[float, float]] = []
        self.calls: list[str] = []

    def usage(self, bound: int, max_tokens: int) -> tuple[int, int]:
        into, out = self.fractions.pop(0)
        return math.floor(into * bound), math.floor(out * max_tokens)

    def __call__(self, spec: str, temperature: float, max_tokens: int) -> BaseChatModel:
        return HonestModel(spec=spec, max_tokens=max_tokens).wire(self.usage, self.calls)


# --- the property: random call sequences against the real guard and ledger ---

# Usage as a share of its cap: 1.0 (the most an honest provider can bill) often, since there the dollar cap is tight.
share = st.one_of(st.just(1.0), st.just(0.0), st.floats(min_value=0, max_value=1))
call_strategy = st.tuples(
    st.sampled_from(sorted(SCHEMAS)),  # role
    st.integers(min_value=0, max_value=1),  # tier
    st.text(max_size=300),  # a prompt piece (any unicode: 1 to 4 bytes a character)
    st.integers(min_value=1, max_value=400),  # how many times it repeats: prompts up to ~500 kB
    share,  # reported input tokens, as a share of the prompt's bound
    share,  # reported output tokens, as a share of max tokens
)
Call = tuple[str, int, str, int, float, float]


def _messages(role: str, piece: str, repeat: int) -> list[BaseMessage]:
    return [SystemMessage(f"You are the {role}."), HumanMessage(piece * repeat)]


@pytest.mark.adversarial("money")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    max_output_tokens=st.integers(min_value=1, max_value=20_000),
    code_output_tokens=st.integers(min_value=1, max_value=20_000),
    lineup=st.lists(st.sampled_from(SPECS), min_size=8, max_size=8),
    calls=st.lists(call_strategy, min_size=1, max_size=8),
    # The cap as a share of what the whole sequence could cost at worst: below 1 some calls must be refused.
    budget_share=st.one_of(st.just(0.0), st.floats(min_value=0, max_value=1.2)),
)
def test_random_call_sequences_never_spend_more_than_the_cap(
    max_output_tokens: int, code_output_tokens: int, lineup: list[str], calls: list[Call], budget_share: float
) -> None:
    models = HonestModels()
    ctx = Context(
        planner_models=lineup[0:2],
        coder_models=lineup[2:4],
        debugger_models=lineup[4:6],
        worker_model=lineup[6],
        expert_model=lineup[7],
        max_output_tokens=max_output_tokens,
        code_output_tokens=code_output_tokens,
        chat_model_factory=models,
    )
    tiers = [ctx.lineup.tiers(role)[min(tier, len(ctx.lineup.tiers(role)) - 1)] for role, tier, *_ in calls]
    worst = [
        estimate_call(ctx, role, spec, SCHEMAS[role], _messages(role, piece, repeat)).worst_case_usd
        for (role, _, piece, repeat, _, _), spec in zip(calls, tiers, strict=True)
    ]
    ctx.budget_usd = budget = sum(worst) * budget_share
    state: dict[str, Any] = {"ledger": Ledger(), "lifelines": 5}
    for (role, tier, piece, repeat, input_share, output_share), call_worst in zip(calls, worst, strict=True):
        spent, made = spent_usd(state), len(models.calls)  # type: ignore[arg-type]
        models.fractions.append((input_share, output_share))

        outcome = call_structured(state, ctx, role, SCHEMAS[role], _messages(role, piece, repeat), tier=tier)  # type: ignore[arg-type]
        state |= outcome.update

        assert state["ledger"].cost_usd <= budget  # the invariant
        should_refuse = call_worst > 0 and spent + call_worst > budget
        assert outcome.budget_refused is should_refuse
        assert len(models.calls) == made + (0 if should_refuse else 1)  # a refused call never reaches the model
        if should_refuse:
            assert outcome.error is not None and outcome.error.startswith("budget:")
            models.fractions.pop()
        event("refused" if should_refuse else "made")


# --- the estimator is a true bound for a byte-level BPE tokenizer ---


@pytest.fixture(scope="module")
def byte_level_bpe() -> Any:
    """A byte-level BPE (the GPT-2 / tiktoken / Llama 3 / Qwen2 family) trained here on this repository's code."""
    from tokenizers import ByteLevelBPETokenizer

    root = Path(__file__).resolve().parents[2]
    corpus = [p.read_text(encoding="utf-8") for p in sorted(root.glob("nodes/*.py")) + sorted(root.glob("*.md"))]
    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train_from_iterator([*corpus, "héllo wörld ünïcode 日本語 😀"] * 3, vocab_size=3000, show_progress=False)
    return tokenizer


@pytest.mark.adversarial("money")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(max_size=2000), min_size=1, max_size=4))
def test_the_input_bound_is_never_below_a_byte_level_bpe_count(byte_level_bpe: Any, texts: list[str]) -> None:
    tokens = sum(len(byte_level_bpe.encode(text).ids) for text in texts)
    assert tokens <= sum(len(t.encode("utf-8")) for t in texts)  # the argument: merges only ever shrink
    assert input_token_bound(texts) >= tokens + len(texts)  # and the template allowance on top


def test_the_bound_counts_bytes_not_characters_and_the_schema_too() -> None:
    assert input_token_bound(["😀" * 10]) == input_token_bound(["a" * 40])  # 4 bytes a character
    assert input_token_bound(["hi"], schema_text="x" * 100) == input_token_bound(["hi", "x" * 100])
    assert input_token_bound([]) > 0  # the reply priming alone


def test_worst_case_prices_the_bound_and_the_full_output_allowance() -> None:
    texts = ["system", "user " * 100]
    expected = price_for(PRICED).cost(input_token_bound(texts), 700)
    assert worst_case_cost_usd(PRICED, texts, 700) == pytest.approx(expected)
    assert worst_case_cost_usd(PRICED, texts, 1400) > worst_case_cost_usd(PRICED, texts, 700)
    assert worst_case_cost_usd(FREE, texts, 10**6) == 0.0
    assert worst_case_cost_usd("local:qwen2.5-coder-0.5b", texts, 10**6) == 0.0


# --- the guard's edges ---


def _guard_state(tmp_path: Path, spent: float) -> tuple[dict[str, Any], Context, list[SystemMessage]]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    ledger = Ledger().record("planner", PRICED, cost_usd=spent) if spent else Ledger()
    ctx = Context(planner_models=[PRICED], budget_usd=1.0, chat_model_factory=HonestModels())
    return {"ledger": ledger, "run_dir": str(run_dir), "lifelines": 5}, ctx, [SystemMessage("plan")]


def test_a_refused_call_writes_why_and_touches_neither_model_nor_ledger(tmp_path: Path) -> None:
    state, ctx, messages = _guard_state(tmp_path, spent=0.999)
    outcome = call_structured(state, ctx, "planner", SCHEMAS["planner"], messages)  # type: ignore[arg-type]
    assert outcome.budget_refused and outcome.parsed is None and not outcome.provider_failed
    assert outcome.update == {"ledger": state["ledger"], "status": "budget"}  # no lifeline spent either
    assert ctx.chat_model_factory.calls == []  # type: ignore[union-attr]
    (record,) = read_trace(state["run_dir"])
    assert record["type"] == "budget_refused" and record["model"] == PRICED and record["role"] == "planner"
    assert record["spent_usd"] + record["worst_case_usd"] > record["budget_usd"] == 1.0
    assert record["input_token_bound"] > 0 and record["max_output_tokens"] == ctx.max_output_tokens
    assert "not made" in record["error"]


def test_a_call_that_fits_is_made(tmp_path: Path) -> None:
    state, ctx, messages = _guard_state(tmp_path, spent=0.5)
    ctx.chat_model_factory.fractions.append((1.0, 1.0))  # type: ignore[union-attr]
    outcome = call_structured(state, ctx, "planner", SCHEMAS["planner"], messages)  # type: ignore[arg-type]
    assert not outcome.budget_refused and ctx.chat_model_factory.calls == [PRICED]  # type: ignore[union-attr]
    assert 0.5 < outcome.update["ledger"].cost_usd <= 1.0


def test_a_free_model_is_never_refused_even_under_a_zero_cap(tmp_path: Path) -> None:
    models = HonestModels()
    models.fractions.append((1.0, 1.0))
    ctx = Context(planner_models=[FREE], budget_usd=0.0, chat_model_factory=models)
    state = {"ledger": Ledger(), "lifelines": 5}
    outcome = call_structured(state, ctx, "planner", AnswerReply, [HumanMessage("x" * 100_000)])  # type: ignore[arg-type]
    assert not outcome.budget_refused and models.calls == [FREE]
    assert limit_reached({**state, **outcome.update}, ctx, 1) is None  # spending exactly $0 of $0 goes on


def test_calls_a_kill_cut_off_count_against_the_cap(tmp_path: Path) -> None:
    state, ctx, messages = _guard_state(tmp_path, spent=0.0)
    cut_off = {"type": "llm_call", "model": PRICED, "cost_usd": 0.9995}
    (Path(state["run_dir"]) / INTERRUPTED_TRACE).write_text(json.dumps(cut_off) + "\n")
    assert spent_usd(state) == pytest.approx(0.9995)  # type: ignore[arg-type]
    outcome = call_structured(state, ctx, "planner", SCHEMAS["planner"], messages)  # type: ignore[arg-type]
    assert outcome.budget_refused
    (Path(state["run_dir"]) / INTERRUPTED_TRACE).write_text(json.dumps(cut_off | {"cost_usd": 1.5}) + "\n")
    assert limit_reached(state, ctx, 0) == "budget"  # type: ignore[arg-type]


def test_a_refusal_is_a_budget_stop_even_on_the_last_step() -> None:
    ctx = Context(planner_models=[PRICED], max_steps=1)
    assert limit_reached({"ledger": Ledger(), "status": "budget"}, ctx, 1) == "budget"
    assert limit_reached({"ledger": Ledger(), "status": "running"}, ctx, 1) == "step_cap"


# --- whole runs on scripted priced models ---


def _run(task: Path, tmp_path: Path, models: ScriptedModels, **settings: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "planner_models": [PRICED],
        "coder_models": [PRICED],
        "debugger_models": [PRICED],
        "worker_model": PRICED,
        "use_expert": False,
        "use_retrieval": False,
        "runs_dir": str(tmp_path / "runs"),
        "cache_dir": str(tmp_path / "cache"),
        "chat_model_factory": models,
    }
    ctx = Context(**(defaults | settings))
    return build_graph().invoke({"task_dir": str(task)}, context=ctx, config={"recursion_limit": 400})


@pytest.mark.adversarial("money")
def test_a_tiny_budget_ends_the_run_with_status_budget_and_never_overspends(tiny_task: Path, tmp_path: Path) -> None:
    # Each call bills 4,000 input and 500 output tokens of gpt-4o ($0.015): a few fit in $0.08, then the next
    # call's worst case (the whole prompt and 700 output tokens) no longer does.
    models = ScriptedModels({PRICED: [LIST, RUN, LIST, RUN, LIST, RUN] * 3}, input_tokens=4_000, output_tokens=500)
    state = _run(tiny_task, tmp_path, models, budget_usd=0.08)
    result = state["result"]
    assert result["status"] == "budget"
    assert 0 < result["cost_usd"] <= 0.08
    assert models.remaining()[PRICED] > 0  # the run stopped on the money, not on a lack of replies
    run_dir = Path(result["run_dir"])
    assert json.loads((run_dir / "result.json").read_text())["cost_usd"] == result["cost_usd"]
    (refused,) = [r for r in read_trace(run_dir) if r["type"] == "budget_refused"]
    assert refused["spent_usd"] == pytest.approx(result["cost_usd"])
    assert refused["spent_usd"] + refused["worst_case_usd"] > 0.08
    assert refused["input_token_bound"] >= 4_000  # the scripted usage is one an honest provider could report
    assert "budget" in state["steps"][-1]["observation"]


@pytest.mark.adversarial("money")
def test_an_unaffordable_edit_is_not_made_and_the_run_stops(tiny_task: Path, tmp_path: Path) -> None:
    # The planner's calls fit; the coder's worst case (200,000 output tokens of gpt-4o: $2) does not. The coder's
    # cap follows the file's size (room for it to double), so the script is made long enough to allow 200,000.
    long_train = BASELINE_TRAIN + "".join(f"# {'padding ' * 25}{n}\n" for n in range(2000))
    (tiny_task / "env" / "train.py").write_text(long_train)
    models = ScriptedModels({PRICED: [edit(), code(IMPROVED_TRAIN)]})
    state = _run(tiny_task, tmp_path, models, budget_usd=0.5, code_output_tokens=200_000)
    result = state["result"]
    assert result["status"] == "budget" and result["cost_usd"] <= 0.5
    assert models.remaining() == {PRICED: 1}  # the coder was never called
    assert [c["schema"]["title"] for c in models.calls()] == ["PlannerReply"]
    assert state["steps"][0]["ok"] is False and "not made" in state["steps"][0]["observation"]
    assert Path(result["run_dir"], "workspace", "train.py").read_text() == long_train  # nothing was edited
    assert Path(result["run_dir"], "result.json").exists()


def test_free_models_run_on_under_a_zero_cap(tiny_task: Path, tmp_path: Path) -> None:
    models = ScriptedModels({FREE: [LIST, RUN]})
    ctx_models = {"planner_models": [FREE], "coder_models": [FREE], "debugger_models": [FREE], "worker_model": FREE}
    ctx = Context(
        **ctx_models,
        use_expert=False,
        use_retrieval=False,
        budget_usd=0.0,
        max_steps=2,
        runs_dir=str(tmp_path / "runs"),
        cache_dir=str(tmp_path / "cache"),
        chat_model_factory=models,
    )
    state = build_graph().invoke({"task_dir": str(tiny_task)}, context=ctx, config={"recursion_limit": 400})
    assert state["result"]["status"] == "step_cap" and state["result"]["steps"] == 2


@pytest.mark.adversarial("money")
def test_an_unaffordable_fix_is_not_made_and_the_broken_edit_is_rolled_back(tiny_task: Path, tmp_path: Path) -> None:
    # gpt-4o-mini plans and codes for fractions of a cent; a gpt-4 debugger's worst case (the prompt's bytes as
    # tokens, 750 reply tokens for this short script) is about $0.1.
    cheap, dear = "openai:gpt-4o-mini", "openai:gpt-4"
    models = ScriptedModels(
        {cheap: [edit(), code(BROKEN_TRAIN)], dear: [{"diagnosis": "typo", "code": IMPROVED_TRAIN}]}
    )
    state = _run(
        tiny_task,
        tmp_path,
        models,
        planner_models=[cheap],
        coder_models=[cheap],
        debugger_models=[dear],
        budget_usd=0.05,
        max_steps=5,
    )
    result = state["result"]
    assert result["status"] == "budget" and 0 < result["cost_usd"] <= 0.05
    assert models.calls(dear) == [] and models.remaining() == {dear: 1}
    observation = state["steps"][-1]["observation"]
    assert "Debugger attempt 1 failed: budget:" in observation and "restored" in observation
    assert Path(result["run_dir"], "workspace", "train.py").read_text() == BASELINE_TRAIN
