"""Where listings come from. Each source yields hub-stats-shaped frames; `normalise` maps them to the raw schema."""
