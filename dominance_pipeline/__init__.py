"""dominance_pipeline: monthly, auditable measures of which countries' open models dominate the Hugging Face Hub."""
