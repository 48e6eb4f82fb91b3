"""BudgetMLAgent: a cost-effective LLM multi-agent system for ML engineering tasks."""

__version__ = "0.1.0"
