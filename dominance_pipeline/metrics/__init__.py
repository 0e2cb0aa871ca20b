"""Monthly aggregates and the dominance indices computed from them."""
