"""Model access: specs, local GGUF catalogue and llama.cpp server, chat models, prices and the call ledger."""
