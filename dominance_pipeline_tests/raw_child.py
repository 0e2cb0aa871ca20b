"""Materialize raw_hub_listings (live source) for one month in this process, so a test can SIGKILL it.

    python -m dominance_pipeline_tests.raw_child DATA_DIR KEY ENDPOINT PAGE_SIZE CHECKPOINT_ROWS

Prints the run's outcome and the raw asset's metadata as one line of JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dominance_pipeline_tests.fakehub import materialize_raw, raw_metadata, step_error


def main(argv: list[str]) -> int:
    data, key, endpoint, page_size, checkpoint_rows = argv
    result = materialize_raw(Path(data), key, {"source": "live"}, endpoint, page_size=int(page_size), checkpoint_rows=int(checkpoint_rows))
    meta = raw_metadata(result) if result.success else {}
    print(json.dumps({"success": result.success, "error": None if result.success else step_error(result), "metadata": meta}, default=str))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
