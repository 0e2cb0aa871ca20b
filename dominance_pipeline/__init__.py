"""dominance_pipeline: monthly, auditable measures of which countries' open models dominate the Hugging Face Hub."""

from dominance_pipeline import allocator

# Before any module of the package imports polars (see allocator).
allocator.configure()
