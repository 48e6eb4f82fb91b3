"""Every word the models read: personas (profiles), each role's prompt wording and the observations its node leaves
(planner, coder, debugger, expert, workers; history renders past steps), and the pydantic shapes of the replies."""
