"""How the agent's past steps read in every prompt that shows them (planner, expert, reflection)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# How much of a step's observation a prompt shows: the last step's in full, older ones in brief.
RECENT_OBSERVATION_CHARS = 2500
OLDER_OBSERVATION_CHARS = 400
SCAFFOLD_MODEL = "scaffold"  # the "model" of a step the scaffold takes itself, without a planner call
DIFF_SHOWN_ABOVE = "(diff left out: every line it adds is in the script listed above)"
_DIFF_LINE_STARTS = (" ", "+", "-", "@@", "\\", "... [")


def without_shown_diffs(observation: str, listing: str) -> str:
    """`observation` with each unified diff whose added lines all appear in `listing` (the script as shown now)
    replaced by a one-line note: such a diff repeats the listing (about 2,000 of the planner's 4,700 situation
    characters in the demo). A diff with a line the script no longer holds (a reverted or later-changed edit) stays:
    it is the only view of what that step wrote."""
    lines = observation.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not (lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            out.append(lines[i])
            i += 1
            continue
        end = i + 2
        while end < len(lines) and lines[end].startswith(_DIFF_LINE_STARTS):
            # a diff cut in the middle resumes mid-line after its marker: that line belongs to the diff
            end += 2 if lines[end].startswith("... [") else 1
        end = min(end, len(lines))
        added = [line[1:].strip() for line in lines[i + 2 : end] if line.startswith("+")]
        shown = all(line in listing for line in added if line)
        out.extend([DIFF_SHOWN_ABOVE] if shown else lines[i:end])
        i = end
    return "\n".join(out)


def render_step(step: Mapping[str, Any], max_chars: int, listing: str | None = None) -> str:
    """One past step: its action and input, whether it failed, the thought, and the observation cut in the middle;
    with `listing` (the script's current text, shown in the same prompt), diffs it already shows are left out."""
    observation = step["observation"]
    if listing is not None:
        observation = without_shown_diffs(observation, listing)
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
