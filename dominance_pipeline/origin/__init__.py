"""Who a model comes from: the org registry, lineage to the root base model, and per-model tagging."""
