"""A synthetic Hugging Face Hub: hub-stats-shaped month-end snapshots at any scale, calibrated on the real one.

Why: the real Hub has ~3 million models; the bundled real sample has 4,167 (selected, mostly LLMs). To
measure the pipeline at Hub scale, and to backfill many months, we need listings that look like the Hub
where it matters for the work: heavy-tailed downloads, a few orgs holding most of them, lineage chains
with the real relation mix, a long tail of individual uploaders, growth month over month. Everything is
drawn with numpy from one seed (same config + same seed = same bytes), vectorised: no loop over models.

Output: `hub_stats_YYYY-MM.parquet`, one per month, with exactly the sample's columns and dtypes (id,
author, createdAt, lastModified, downloads, downloadsAllTime, likes, trendingScore, tags, cardData,
safetensors, gguf, baseModels, pipeline_tag, library_name) and the Parquet key-value metadata
`source=synthetic`, which the local source records in the raw rows' `source` column.

Calibration: which statistic each parameter matches (`hub.py`/`months.py` constants; `report.py` prints
sample vs synthetic vs target). The sample is a *selected* slice (the models a registry tracks: 62 % carry
lineage, median 30-day downloads 10, p90 13k), so whole-Hub facts take precedence where they exist, and
the sample calibrates what selection does not distort (the big orgs' relative weights, merge fan-in, card
and tag shapes, the likes/downloads and all-time/30-day relations).

| parameter | matches |
|---|---|
| MONTHLY_GROWTH 5.9 %/month, creation density ∝ exp(g·t) from 2019 | Hub ~1.0M models (Sep 2024) → 2.16M (2025-10-23) |
| placeholder createdAt for models created before 2022-03-02 | the Hub's own placeholder (sample: 9 rows) |
| LINEAGE_SHARE 0.28 (declared parents only after mid-2022) | 28 % of models with baseModels (hub-stats, Oct 2025) |
| RELATION_MIX adapter .426 finetune .359 quantized .192 merge .023 | same snapshot |
| merges: 1 + Geometric(0.5) parents (so ≥ 2), ≤ 12 | sample: half the multi-parent models have 2 parents |
| PARENT_BETA 0.6, PARENT_KIND: popularity-weighted choice of earlier parents, finetunes and merges favoured | lineage concentrated on a few bases (Qwen: 151k derivatives, HF summer 2026); depth 1 : 2 : 3+ ≈ 70 : 22 : 8 (the LLM-heavy sample: 42 : 36 : 22) |
| popularity mixture: 30 % dormant, lognormal body (median 3, σ 1.6), 1 % Pareto tail (x_min 10,000, α 0.95, cap 1.5e8) | top 1 % of models ≈ 99 % of 30-day downloads (Osborne et al. 2024; HF: 1.5 % of repos = 99.2 %); top 0.01 % ≈ half (HF: top 200 of ~2M = 49.6 %); ~1,000 downloads per model per month (~100M/day over ~3M models) |
| launch burst: lognormal (median 80, σ 1.2) added in a model's first month | ~half the models < 200 all-time downloads (HF spring 2026) despite the concentration above |
| POPULARITY_WEIGHT per (relation, uploader class) | registry orgs > 80 % of downloads (the 50 most downloaded entities hold 80.22 %, lbourdois; seed 0: 85-92 % from 3M to 100k models), CN ≈ US |
| registry orgs: share of models ∝ sample models, popularity ∝ (sample downloads per model)^0.6 | the sample (orgs.csv, frozen from it) |
| PRIOR_SCALE 1.07, PRIOR_GAMMA 1.3 | sample: median all-time / 30-day = 46 at median age 18 months |
| LIKES_A/B/SIGMA = −1.945, 0.486, 1.147 | least squares of log likes on log all-time downloads in the sample |
| REGISTRY_PIPELINES | the sample's task mix (registry orgs publish mostly LLMs) |
| cardData: license, language, library, base_model, pipeline, tags, datasets; model-index for 20 % | sample: median card 228 bytes, mean 1,335 (model-index in 27 %, leaderboard-heavy); synthetic: median 145, mean ~515 |
| tags: library, format, arch, task, languages, datasets, arxiv, licence, base_model pairs, features | sample: `base_model:X` + `base_model:<relation>:X` per parent; median 14 tags |

Assumptions (no public figure): uploader mix per relation, number of individual and unregistered-org
namespaces, the Hub-wide task mix, external/self/cyclic parents (2 %, 0.01 %, 2 per million models).
Known gap: derivatives get few downloads here, so the lineage view moves country shares by < 1 point;
the real Hub's quantizations of popular bases (bartowski, unsloth) are downloaded more.
"""

from dominance_pipeline.synth.hub import SynthConfig, Universe, build_universe
from dominance_pipeline.synth.months import SYNTHETIC, evolve, snapshot_name, write_month

__all__ = ["SYNTHETIC", "SynthConfig", "Universe", "build_universe", "evolve", "generate", "snapshot_name", "write_month"]

from collections.abc import Callable
from pathlib import Path

import numpy as np


def generate(config: SynthConfig, out_dir: Path, progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write `config.months` snapshots into `out_dir`; return their paths, oldest first."""
    import time

    say = progress or (lambda _msg: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    universe = build_universe(config)
    say(f"universe of {universe.n:,} models drawn in {time.perf_counter() - t0:.1f} s")
    order = np.random.default_rng([config.seed, 0]).permutation(universe.n)
    paths = []
    for state in evolve(universe):
        t1 = time.perf_counter()
        path = write_month(universe, state, out_dir / snapshot_name(state.month), order)
        say(f"{state.month:%Y-%m}: {state.n:,} models -> {path} ({time.perf_counter() - t1:.1f} s)")
        paths.append(path)
    return paths
