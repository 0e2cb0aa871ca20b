"""Materialize raw_hub_listings for one month in this process, so that a test can SIGKILL it.

    python -m dominance_pipeline_tests.raw_child DATA_DIR KEY CONFIG_JSON [ENDPOINT PAGE_SIZE CHECKPOINT_ROWS]

CONFIG_JSON is the asset's run config ({"source": "live"}, {"source": "local", "snapshot": ...}). Prints the
run's outcome and the raw asset's metadata as one line of JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dominance_pipeline_tests.fakehub import materialize_raw, raw_metadata, step_error


def main(argv: list[str]) -> int:
    data, key, config, *hub = argv
    hub_api = {"page_size": int(hub[1]), "checkpoint_rows": int(hub[2])} if hub else {}
    result = materialize_raw(Path(data), key, json.loads(config), hub[0] if hub else None, **hub_api)
    meta = raw_metadata(result) if result.success else {}
    print(json.dumps({"success": result.success, "error": None if result.success else step_error(result), "metadata": meta}, default=str))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
