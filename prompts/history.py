"""How the agent's past steps read in every prompt that shows them (planner, expert, reflection)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# How much of a step's observation a prompt shows: the last step's in full, older ones in brief.
RECENT_OBSERVATION_CHARS = 2500
OLDER_OBSERVATION_CHARS = 400
SCAFFOLD_MODEL = "scaffold"  # the "model" of a step the scaffold takes itself, without a planner call


def render_step(step: Mapping[str, Any], max_chars: int) -> str:
    """One past step: its action and input, whether it failed, the thought, and the observation cut in the middle."""
    observation = step["observation"]
    if len(observation) > max_chars:
        observation = observation[: max_chars // 2] + "\n[...]\n" + observation[-max_chars // 2 :]
    status = "" if step["ok"] else " (failed)"
    if step.get("model") == SCAFFOLD_MODEL and step["action"] == "Ask Expert":
        return f"Step {step['step']}: Ask Expert, asked by the scaffold (no gain for a while){status}\n{observation}"
    if step.get("model") == SCAFFOLD_MODEL:
        # Its long instruction, shown verbatim, was copied back as the next step by 0.5B and 1.5B planners alike.
        return (
            f"Step {step['step']}: {step['action']} of {step['action_input'].get('script_name')}{status}, made by "
            f"the scaffold to get a measured starting point\nObservation: {observation}"
        )
    return (
        f"Step {step['step']}: {step['action']} {json.dumps(step['action_input'])}{status}\n"
        f"Thought: {step['thought']}\nObservation: {observation}"
    )
