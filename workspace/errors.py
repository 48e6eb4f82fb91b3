"""Errors raised by the workspace room."""


class TaskError(ValueError):
    """A folder is not a usable task, or preparing it failed."""


class ActionInputError(ValueError):
    """An action input the workspace refuses; the message is meant for the agent."""
