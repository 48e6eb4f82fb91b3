"""Ground floor of a run: state, settings (context), presets, run folder, durable checkpoints, model calls,
memory access, limits and measured edits. Imports no node and no graph."""
