"""A Hugging Face-compatible Hub server for tests, benchmarks and offline demos.

huggingface.co cannot be reached from where the pipeline is developed and tested, and a mock inside the
client would test nothing of what matters (URLs, query encoding, Link pagination, retries, Range reads).
This package serves the same HTTP API the real Hub does, from Parquet snapshot files, so the unmodified
huggingface_hub client (HfApi, HfFileSystem, http_backoff) talks to it exactly as it would to the Hub:

- `GET /api/models` (models.py): the model listing, paginated by an absolute `Link` header;
- the dataset endpoints `hf://` reads use (repos.py): repo info, tree, paths-info, commits, and
  `resolve` downloads with HTTP Range;
- fault injection (faults.py): 429s with rate-limit headers, 5xx bursts, slow and dropped responses.

Run it with `dominance-pipeline hub-server`, or in-process with `HubServer` (server.py).
"""

from dominance_pipeline.hubserver.server import HubServer

__all__ = ["HubServer"]
