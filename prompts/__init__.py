"""Every word the models read: personas, prompt wording, and the pydantic shapes of their replies."""
