"""Data-quality rules that gate every partition, and the quarantine of rows that cannot be normalised."""
