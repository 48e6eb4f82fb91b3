"""Recipes: the few changes that usually lift a weak baseline, written out for this workspace's names.

The 1.5B planner named the right idea (use the text columns) in vague words and its coder broke it (median() over
a text column), run after run. A recipe is a concrete edit instruction the planner may pick, plus the shape of code
known to work that the coder adapts: facts of the data and the script decide which recipes are offered, the models
still choose and write the change, and every result is measured by running the script.

Which recipes fit is read from the script's shape (scaffold/script_shape.py): its frames, its feature list, columns
or drop, its target and model. Columns come in through column_recipes.py, a better model or optimizer through
model_recipes.py; a shape neither can read gets no recipe, and the models plan on their own.
"""

from __future__ import annotations

import re

from budgetmlagent.scaffold.code_facts import unused_columns
from budgetmlagent.scaffold.column_recipes import PSEUDO_ROWS, RECIPE_COLUMNS, column_recipes
from budgetmlagent.scaffold.model_recipes import ADAM_EPOCHS, Recipe, kind_of_target, model_recipes, target_of
from budgetmlagent.scaffold.script_shape import read_shape
from budgetmlagent.workspace.workspace import Workspace

__all__ = ["ADAM_EPOCHS", "PSEUDO_ROWS", "RECIPE_COLUMNS", "Recipe", "recipe_for_instruction", "recipes_for"]


def recipes_for(ws: Workspace, code: str) -> list[Recipe]:
    """The recipes this script and its data call for, most useful first; none for a script that does not parse."""
    shape = read_shape(ws, code)
    if shape is None:
        return []
    target = target_of(shape)
    columns = column_recipes(ws, shape, unused_columns(ws, code), target)
    return [*columns, *model_recipes(shape, kind_of_target(ws, shape, target))]


def recipe_for_instruction(instruction: str, recipes: list[Recipe]) -> Recipe | None:
    """The recipe an edit instruction asks for: its own words, one of its keywords, or its columns (two of them, or
    its only one). The 0.5B planner wrote "Add the text columns MS_SubClass, MS_Zoning, ... and 25 more" from the
    recipe's opening and the unused-columns list; matched on no keyword, its coder got no code shape and only cast
    the columns to a dtype nothing read (ames-house-price, +0.0 %)."""
    said = " ".join(instruction.split()).lower()
    for recipe in recipes:
        if said == " ".join(recipe.instruction.split()).lower():
            return recipe
    by_keyword = next((r for r in recipes if any(k in said for k in r.keywords)), None)
    if by_keyword is not None:
        return by_keyword
    named = {r.name: sum(1 for c in r.columns if _names(said, c)) for r in recipes}
    best = max(recipes, key=lambda r: named[r.name], default=None)
    if best is None or named[best.name] < min(2, len(best.columns)) or named[best.name] == 0:
        return None
    return best


def _names(said: str, column: str) -> bool:
    """Whether a lower-cased instruction names the column as a whole word."""
    return re.search(rf"(?<![\w.]){re.escape(column.lower())}(?![\w])", said) is not None
