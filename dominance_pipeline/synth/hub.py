"""The synthetic Hub's universe: every model that exists by the newest month, with its static attributes.

Everything here is drawn once per (config, seed) with numpy, vectorised: creation times, uploader, relation,
parents, latent popularity, pipeline/library/architecture, card and tag features. `months.py` turns the
universe into month-end snapshots. Each calibrated constant below says which statistic it matches; the
package docstring (`dominance_pipeline.synth`) has the whole table, and `report.py` prints the comparison.

Models are indexed in creation order, so "created before" is "smaller index": a parent is always drawn
among the models created before its child (except the injected cycles, which real cards also produce).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from dominance_pipeline.synth.orgs import org_table

US_PER_DAY = 86_400_000_000
US_PER_MONTH = 30 * US_PER_DAY
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# --- growth and dates -------------------------------------------------------------------------------
HISTORY_START = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
# Hub size ~1.0M models (Sep 2024) -> 2.16M (2025-10-23, hf-filesystem-offline.md §6): ln(2.16)/13 months.
MONTHLY_GROWTH = 0.059
# Lineage metadata (base_model in cards) is a 2023 feature; earlier repos almost never declare a parent.
LINEAGE_START = dt.datetime(2022, 6, 1, tzinfo=dt.UTC)

# --- lineage ----------------------------------------------------------------------------------------
# ~28 % of models declare a base model (Oct 2025 hub-stats, hf-filesystem-offline.md §6).
LINEAGE_SHARE = 0.28
RELATIONS = ("original", "finetune", "adapter", "quantized", "merge")
# Relation mix of declared bases, same source: adapter 42.6 %, finetune 35.9 %, quantized 19.2 %, merge 2.3 %.
RELATION_MIX = {"finetune": 0.359, "adapter": 0.426, "quantized": 0.192, "merge": 0.023}
# A merge draws 1 + Geometric(0.5) parents (at least 2; one drawn twice is named once, so ~0.2 % keep one), capped:
# in the sample half the multi-parent models have 2.
MERGE_EXTRA_P = 0.5
MAX_PARENTS = 12
# Parent choice: weight = (rate + 1) ** PARENT_BETA * PARENT_KIND[relation of the candidate]. Originals and
# finetunes (and merges) are built on, quantizations and adapters rarely. Gives depth 1 : 2 : 3+ of about
# 70 : 22 : 8 among derived models whose parent is listed (the LLM-heavy sample: 42 : 36 : 22).
PARENT_BETA = 0.6
PARENT_KIND = np.array([1.0, 15.0, 0.05, 0.02, 15.0])
# Quirks real cards have: a parent missing from the listing (private/deleted), a model naming itself, and
# two models naming each other. Rates are assumptions (no public count), kept small.
EXTERNAL_PARENT_SHARE = 0.02
SELF_REFERENCE_SHARE = 1e-4
CYCLES_PER_MILLION = 2.0

# --- uploaders --------------------------------------------------------------------------------------
REGISTRY, INTERMEDIARY, UNREGISTERED, INDIVIDUAL = range(4)
CLASSES = ("registry org", "intermediary", "unregistered org", "individual")
# P(uploader class | relation), rows in RELATIONS order. Registry orgs upload ~1.5 % of models, the
# quantizing intermediaries (bartowski, mlx-community, ...) about a third of quantizations.
UPLOADER_MIX = np.array(
    [
        [0.020, 0.000, 0.150, 0.830],  # original
        [0.008, 0.000, 0.080, 0.912],  # finetune
        [0.001, 0.000, 0.030, 0.969],  # adapter
        [0.010, 0.350, 0.040, 0.600],  # quantized
        [0.000, 0.000, 0.030, 0.970],  # merge
    ]
)
UNREGISTERED_ORGS_PER_MODEL = 0.002  # ~6k organisations the registry does not know, at 3M models
INDIVIDUALS_PER_MODEL = 0.30  # ~0.9M individual namespaces at 3M models (3.3 models each on average)
# Models per namespace: each namespace draws a Pareto(alpha) activity weight and models pick namespaces in
# proportion, so most namespaces hold a model or two and a few hold thousands (0.1-0.3 % of the Hub each).
UNREGISTERED_ALPHA = 1.3
INDIVIDUAL_ALPHA = 1.6

# --- popularity (latent 30-day downloads) -----------------------------------------------------------
# A mixture fitted to Hub facts (the sample is selected, see the package docstring): dormant repos, a
# lognormal body, and a Pareto tail holding the top ~1 % of models, capped near the biggest real model.
DORMANT_SHARE = 0.30
DORMANT_MEDIAN, DORMANT_SIGMA = 0.3, 1.0
BODY_MEDIAN, BODY_SIGMA = 3.0, 1.6
TAIL_SHARE, TAIL_MIN, TAIL_ALPHA, TAIL_CAP = 0.01, 10_000.0, 0.95, 1.5e8
# Launch downloads: every new repo's first-month burst (mirrors, crawlers, its author), lognormal. Reconciles
# "~half the models have < 200 all-time downloads" with "1 % of models get 99 % of the 30-day downloads".
LAUNCH_MEDIAN, LAUNCH_SIGMA = 80.0, 1.2
# Who gets the big draws: weighted sampling without replacement (Efraimidis-Spirakis) of the sorted draws,
# weights per (relation, class). Set so registry orgs take more than 80 % of downloads (the 50 most
# downloaded entities hold 80.22 %, lbourdois; the registry has those and ~300 more) with CN ~ US, and the
# rest goes to unregistered orgs and people: the quality gates expect most downloads attributed, as they
# are on the real Hub's heavy hitters. Seed 0: 92 % at 100k models, 88 % at 1M, 85 % at 3M (the registry
# weights were a third of these until the 3M month came out at 68 %, under the gates' 80 % warning).
POPULARITY_WEIGHT = np.array(
    [
        # registry, intermediary, unregistered, individual
        [12000.0, 1.0, 60.0, 1.0],  # original
        [1800.0, 1.0, 10.0, 0.6],  # finetune
        [60.0, 1.0, 2.0, 0.3],  # adapter
        [210.0, 10.0, 6.0, 0.8],  # quantized
        [3.0, 1.0, 2.0, 0.5],  # merge
    ]
)
# A registry org's weight also scales with its sample downloads per model, to this power.
ORG_POPULARITY_EXP = 1.0
UNREGISTERED_ORG_SIGMA = 1.5  # lognormal spread of unregistered orgs' popularity

# --- tasks, libraries, architectures ----------------------------------------------------------------
# Originals by the registry orgs: the sample's task mix (LLM-heavy, as those orgs are). Everyone else:
# an approximate Hub-wide task mix (assumption: public task-filter counts, not in the sample).
REGISTRY_PIPELINES = {"text-generation": 0.74, None: 0.08, "image-text-to-text": 0.06, "feature-extraction": 0.05,
                      "text-to-image": 0.02, "automatic-speech-recognition": 0.02, "sentence-similarity": 0.01,
                      "text-classification": 0.01, "any-to-any": 0.01}
HUB_PIPELINES = {"text-generation": 0.22, None: 0.16, "text-classification": 0.09, "reinforcement-learning": 0.06,
                 "text-to-image": 0.05, "automatic-speech-recognition": 0.04, "image-classification": 0.04,
                 "token-classification": 0.03, "feature-extraction": 0.03, "sentence-similarity": 0.02,
                 "text2text-generation": 0.03, "image-text-to-text": 0.03, "translation": 0.02, "fill-mask": 0.02,
                 "question-answering": 0.02, "summarization": 0.01, "text-to-speech": 0.01, "object-detection": 0.01,
                 "image-to-image": 0.01, "audio-classification": 0.01, "image-to-text": 0.01,
                 "zero-shot-image-classification": 0.01, "text-ranking": 0.01, "image-segmentation": 0.01,
                 "video-text-to-text": 0.01, "any-to-any": 0.01, "tabular-classification": 0.01}
LLM_PIPELINES = frozenset({"text-generation", "image-text-to-text", "any-to-any", "video-text-to-text"})
LLM_ARCHS = ("llama", "qwen2", "qwen3", "mistral", "gemma2", "gemma3", "phi3", "gpt2", "falcon", "deepseek_v3", "qwen2_vl", "olmo2", "granite")
OTHER_ARCHS = ("bert", "roberta", "xlm-roberta", "distilbert", "t5", "vit", "whisper", "wav2vec2", "clip", "stable-diffusion", "flux", "deberta-v2", "marian", "bart", "detr", "ppo")
LIBRARIES = ("transformers", "diffusers", "peft", "gguf", "mlx", "sentence-transformers", "stable-baselines3",
             "ml-agents", "timm", "keras", "pytorch", "onnx", "vllm", "nemo", "adapter-transformers")
# Library of an original by task family (LLM, diffusion, RL, embedding, other), as probabilities over LIBRARIES + None.
_LIB_BY_FAMILY = {
    "llm": {"transformers": 0.90, None: 0.06, "vllm": 0.02, "nemo": 0.02},
    "diffusion": {"diffusers": 0.85, None: 0.15},
    "rl": {"stable-baselines3": 0.55, "ml-agents": 0.35, None: 0.10},
    "embedding": {"sentence-transformers": 0.65, "transformers": 0.30, None: 0.05},
    "other": {"transformers": 0.70, None: 0.15, "timm": 0.05, "keras": 0.04, "pytorch": 0.03, "onnx": 0.02, "adapter-transformers": 0.01},
}
LLM_PARAMS_MEDIAN, LLM_PARAMS_SIGMA = 7e9, 1.1  # sample: median safetensors.total 8.0e9 (LLM-heavy)
OTHER_PARAMS_MEDIAN, OTHER_PARAMS_SIGMA = 1.2e8, 1.2
SAFETENSORS_SHARE = 0.75
CARD_SHARE = 0.85  # share of repos with a model card (cardData not null); sample: 98 % (curated)
# Share of cards with a model-index (evaluation results): sample 27 %, inflated by Open LLM Leaderboard
# submissions; 20 % here, with 1 + Geometric(0.2) results (mean 5): mean card ~0.6 kB (sample 1.3 kB).
MODEL_INDEX_SHARE = 0.20
MODEL_INDEX_P = 0.2


@dataclass(frozen=True)
class SynthConfig:
    """What to generate: `models` in the newest snapshot, `months` month-end snapshots ending at `end`."""

    models: int
    months: int = 1
    end: dt.date | None = None
    seed: int = 0
    monthly_growth: float = MONTHLY_GROWTH
    cycles_per_million: float = CYCLES_PER_MILLION

    def __post_init__(self) -> None:
        if self.models < 100:
            raise ValueError(f"--models must be at least 100, got {self.models}")
        if not 1 <= self.months <= 240:
            raise ValueError(f"--months must be between 1 and 240, got {self.months}")
        if not 0 < self.monthly_growth < 1:
            raise ValueError(f"--growth must be in (0, 1), got {self.monthly_growth}")
        if self.cycles_per_million < 0:
            raise ValueError(f"cycles per million must be >= 0, got {self.cycles_per_million}")

    @property
    def end_month(self) -> dt.date:
        if self.end is not None:
            return self.end.replace(day=1)
        today = dt.datetime.now(dt.UTC).date()
        return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)

    @cached_property
    def month_starts(self) -> list[dt.date]:
        out = [self.end_month]
        for _ in range(self.months - 1):
            out.append((out[-1] - dt.timedelta(days=1)).replace(day=1))
        return out[::-1]


def month_end(month: dt.date) -> dt.datetime:
    """The snapshot instant standing for `month`: its last second, UTC."""
    nxt = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return dt.datetime(nxt.year, nxt.month, 1, tzinfo=dt.UTC) - dt.timedelta(seconds=1)


def to_us(t: dt.datetime) -> int:
    return (t - EPOCH) // dt.timedelta(microseconds=1)


@dataclass
class Universe:
    """Every model of the newest snapshot, in creation order, as parallel numpy arrays (plus id strings)."""

    config: SynthConfig
    created: np.ndarray  # int64 µs since epoch, ascending
    relation: np.ndarray  # int8 index into RELATIONS (0 = original: no declared parent)
    uploader: np.ndarray  # int8 uploader class
    namespace: np.ndarray  # int32 index into namespaces
    namespaces: pl.Series  # namespace names
    rate: np.ndarray  # float64 latent 30-day downloads at full age
    edge_offsets: np.ndarray  # int64 CSR offsets into edge_parent, len n + 1
    edge_parent: np.ndarray  # int64 parent index; >= n: a parent absent from every snapshot
    external_ids: pl.Series  # ids of the absent parents (index - n)
    root: np.ndarray  # int64 root along first parents (self for originals, external and self links)
    pipeline: np.ndarray  # int16 index into pipeline vocabulary, -1 = none
    pipelines: tuple[str, ...]
    library: np.ndarray  # int16 index into LIBRARIES, -1 = none
    arch: np.ndarray  # int16 index into LLM_ARCHS + OTHER_ARCHS
    params: np.ndarray  # int64 parameter count
    has_safetensors: np.ndarray  # bool
    has_card: np.ndarray  # bool
    model_index: np.ndarray  # int8 model-index results in the card (0 = none)
    card_style: np.ndarray  # uint8 uniform 0-99: how the card spells optional fields
    features: np.ndarray  # uint32 bit field: bit i set = FEATURE_TAGS[i] is among the model's tags
    languages: np.ndarray  # int8 (n, 2) language codes, -1 = none
    datasets: np.ndarray  # int16 (n, 2) dataset codes, -1 = none
    arxiv: np.ndarray  # int16 arxiv code, -1 = none
    license: np.ndarray  # int8 license code
    likes_noise: np.ndarray  # float32 N(0, 1): a model's likes relative to its downloads
    prior_noise: np.ndarray  # float32 N(0, 1): downloads before the first generated month
    launch: np.ndarray  # int64 downloads in the model's first month on top of its rate
    modified_gap: np.ndarray  # int64 µs between creation and last modification
    ids: pl.Series  # model ids, "namespace/name"

    @property
    def n(self) -> int:
        return int(self.created.shape[0])

    def count_at(self, instant_us: int) -> int:
        """How many models exist at `instant_us` (a prefix, since models are in creation order)."""
        return int(np.searchsorted(self.created, instant_us, side="right"))


def _categorical(rng: np.random.Generator, probs: dict, n: int) -> tuple[np.ndarray, list]:
    keys = list(probs)
    p = np.array([probs[k] for k in keys], dtype=np.float64)
    return rng.choice(len(keys), size=n, p=p / p.sum()), keys


def _row_choice(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per element of `rows`, from the probability row probs[rows[i]]."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(rows.shape[0])
    return (u[:, None] >= cum[rows][:, :-1]).sum(axis=1)


def _popularity_draws(rng: np.random.Generator, n: int) -> np.ndarray:
    """n iid draws of the popularity mixture (order irrelevant: they are handed out by rank)."""
    n_tail, n_dormant = rng.binomial(n, TAIL_SHARE), rng.binomial(n, DORMANT_SHARE)
    v = rng.random(n_tail)
    tail = TAIL_MIN * (1 - v * (1 - (TAIL_MIN / TAIL_CAP) ** TAIL_ALPHA)) ** (-1 / TAIL_ALPHA)
    dormant = np.exp(np.log(DORMANT_MEDIAN) + DORMANT_SIGMA * rng.standard_normal(n_dormant))
    body = np.exp(np.log(BODY_MEDIAN) + BODY_SIGMA * rng.standard_normal(n - n_tail - n_dormant))
    return np.concatenate([tail, dormant, body])


def _creation_times(rng: np.random.Generator, cfg: SynthConfig, n: int) -> np.ndarray:
    """Creation instants with density growing like exp(growth * t), truncated to [HISTORY_START, newest end)."""
    end = to_us(month_end(cfg.end_month))
    span = (end - to_us(HISTORY_START)) / US_PER_MONTH
    g = cfg.monthly_growth
    age = -np.log1p(-rng.random(n) * -np.expm1(-g * span)) / g
    created = end - 1_000_000 - (age * US_PER_MONTH).astype(np.int64)
    created.sort()
    return created


def _namespaces(rng: np.random.Generator, uploader: np.ndarray) -> tuple[np.ndarray, pl.Series, np.ndarray]:
    """Namespace index of every model and the namespace names; also each namespace's popularity factor."""
    n = uploader.shape[0]
    orgs = org_table()
    reg = orgs.filter(~pl.col("intermediary"))
    inter = orgs.filter(pl.col("intermediary"))
    n_unreg = max(10, round(n * UNREGISTERED_ORGS_PER_MODEL))
    n_ind = max(10, round(n * INDIVIDUALS_PER_MODEL))
    sizes = [reg.height, inter.height, n_unreg, n_ind]
    offsets = np.cumsum([0, *sizes])
    ns = np.empty(n, dtype=np.int64)
    reg_models = reg.get_column("models").to_numpy().astype(np.float64)
    for cls, size in enumerate(sizes):
        idx = np.flatnonzero(uploader == cls)
        if cls == REGISTRY:
            pick = rng.choice(size, size=idx.shape[0], p=reg_models / reg_models.sum())
        elif cls == INTERMEDIARY:
            pick = rng.integers(0, size, idx.shape[0])
        else:
            alpha = UNREGISTERED_ALPHA if cls == UNREGISTERED else INDIVIDUAL_ALPHA
            activity = np.cumsum(rng.pareto(alpha, size) + 1)
            pick = _search(activity, rng.random(idx.shape[0]) * activity[-1])
        ns[idx] = offsets[cls] + pick
    per_model = reg.get_column("downloads_30d").to_numpy() / np.maximum(reg_models, 1)
    factor = np.concatenate(
        [
            (per_model / per_model.mean()) ** ORG_POPULARITY_EXP,
            np.ones(inter.height),
            np.exp(UNREGISTERED_ORG_SIGMA * rng.standard_normal(n_unreg)),
            np.ones(n_ind),
        ]
    )
    names = pl.concat(
        [
            reg.get_column("namespace"),
            inter.get_column("namespace"),
            pl.select(pl.format("lab-{}", pl.int_range(n_unreg))).to_series(),
            pl.select(pl.format("user-{}", pl.int_range(n_ind))).to_series(),
        ]
    ).alias("namespace")
    return ns.astype(np.int32), names, factor


def _search(cumulative: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """np.searchsorted(cumulative, queries, 'right'), with the queries sorted first (sequential memory access)."""
    order = np.argsort(queries)
    out = np.empty(queries.shape[0], dtype=np.int64)
    out[order] = np.searchsorted(cumulative, queries[order], side="right")
    return out


def _parents(
    rng: np.random.Generator, relation: np.ndarray, rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(child, parent) edges, sorted by child then parent, each parent created before its child."""
    n = relation.shape[0]
    weight = np.power(rate + 1.0, PARENT_BETA) * PARENT_KIND[relation]
    cum = np.cumsum(weight)
    children = np.flatnonzero(relation > 0)
    counts = np.ones(children.shape[0], dtype=np.int64)
    merges = relation[children] == RELATIONS.index("merge")
    counts[merges] = np.minimum(1 + rng.geometric(MERGE_EXTRA_P, int(merges.sum())), MAX_PARENTS)
    child = np.repeat(children, counts)
    below = np.where(child > 0, cum[np.maximum(child - 1, 0)], 0.0)
    parent = _search(cum, rng.random(child.shape[0]) * below)
    # Only merges can draw a parent twice: sort each merge's parents (edges stay grouped by child), drop repeats.
    key = child * n + parent
    multi = np.repeat(merges, counts)
    key[multi] = np.sort(key[multi])
    keep = np.ones(key.shape[0], dtype=bool)
    keep[1:] = key[1:] != key[:-1]
    keep &= (key % n) < (key // n)
    key = key[keep]
    return key // n, key % n


def _pointer_jump(first: np.ndarray, max_rounds: int = 64) -> np.ndarray:
    """Root along first parents, by pointer jumping (a cycle stops at the round cap: only names use it)."""
    root = first.copy()
    for _ in range(max_rounds):
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    return root


def build_universe(cfg: SynthConfig) -> Universe:
    """Draw the synthetic Hub as of the newest month. Same config (and org table) = same universe."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.models
    created = _creation_times(rng, cfg, n)

    # Relation: derived only after lineage metadata existed, at a rate that gives LINEAGE_SHARE overall.
    can_derive = created >= to_us(LINEAGE_START)
    p_derived = min(1.0, LINEAGE_SHARE / max(can_derive.mean(), 1e-9))
    derived = can_derive & (rng.random(n) < p_derived)
    rel_draw, rel_keys = _categorical(rng, RELATION_MIX, n)
    relation = np.where(derived, np.array([RELATIONS.index(k) for k in rel_keys])[rel_draw], 0).astype(np.int8)
    relation[0] = 0

    uploader = _row_choice(rng, UPLOADER_MIX, relation.astype(np.int64)).astype(np.int8)
    namespace, names, ns_factor = _namespaces(rng, uploader)

    # Popularity: the calibrated draws, handed out by weighted sampling without replacement.
    draws = np.sort(_popularity_draws(rng, n))[::-1]
    weight = POPULARITY_WEIGHT[relation, uploader] * ns_factor[namespace]
    with np.errstate(divide="ignore"):  # an org without downloads in the sample (weight 0) is drawn last: key -inf
        keys = np.log(rng.random(n)) / weight
    rate = np.empty(n)
    rate[np.argsort(-keys, kind="stable")] = draws

    child, parent = _parents(rng, relation, rate)
    has_parent = np.zeros(n, dtype=bool)
    has_parent[child] = True
    relation[(relation > 0) & ~has_parent] = 0  # no eligible earlier parent: stays an original

    # Quirks on single-parent children: a parent missing from the listing, a self-reference, 2-cycles.
    per_child = np.bincount(child, minlength=n)
    single_edge = np.flatnonzero(per_child[child] == 1)
    pick = rng.random(single_edge.shape[0])
    external = single_edge[pick < EXTERNAL_PARENT_SHARE]
    selfref = single_edge[(pick >= EXTERNAL_PARENT_SHARE) & (pick < EXTERNAL_PARENT_SHARE + SELF_REFERENCE_SHARE)]
    parent[external] = n + np.arange(external.shape[0])
    parent[selfref] = child[selfref]
    n_cycles = int(round(cfg.cycles_per_million * n / 1_000_000))
    if n_cycles:
        # B's only parent is A, a single-parent derivative whose only child is B: A's card is edited to name
        # B instead. Both are obscure, as real cycles are (a cycle through a popular base would be fixed).
        edge_of = np.full(n, -1, dtype=np.int64)
        edge_of[child[single_edge]] = single_edge
        quirk = np.zeros(child.shape[0], dtype=bool)
        quirk[external] = quirk[selfref] = True
        clean = single_edge[~quirk[single_edge]]
        children_of = np.bincount(parent[parent < n], minlength=n)
        a = parent[clean]
        ok = clean[(a < n) & (edge_of[np.minimum(a, n - 1)] >= 0)]
        ok = ok[np.isin(edge_of[parent[ok]], clean) & (children_of[parent[ok]] == 1)]
        chosen = rng.choice(ok, size=min(n_cycles, ok.shape[0]), replace=False) if ok.shape[0] else ok
        # Two chosen pairs can chain (one's B is the other's A): editing both cards would leave that A's own parent
        # naming it, a later model, outside any cycle, and A with two children. Drop the pair whose B is another's A.
        chosen = chosen[~np.isin(child[chosen], parent[chosen])]
        a_nodes = parent[chosen]
        a_nodes, first = np.unique(a_nodes, return_index=True)
        parent[edge_of[a_nodes]] = child[chosen[first]]
    edge_offsets = np.concatenate([[0], np.cumsum(per_child)])

    first = np.arange(n)
    first_edge = edge_offsets[:-1][per_child > 0]
    fp = parent[first_edge]
    first[child[first_edge]] = np.where(fp < n, fp, child[first_edge])
    root = _pointer_jump(first)

    # Task, library, architecture, size: drawn for roots, inherited along the first-parent chain.
    pipelines = tuple(dict.fromkeys([*REGISTRY_PIPELINES, *HUB_PIPELINES]))
    p_index = {p: i for i, p in enumerate(pipelines)}
    reg_draw, reg_keys = _categorical(rng, REGISTRY_PIPELINES, n)
    hub_draw, hub_keys = _categorical(rng, HUB_PIPELINES, n)
    pipe = np.where(
        uploader == REGISTRY,
        np.array([p_index[k] for k in reg_keys])[reg_draw],
        np.array([p_index[k] for k in hub_keys])[hub_draw],
    )
    pipe = pipe[root]
    llm_codes = np.array([p in LLM_PIPELINES for p in pipelines])
    is_llm = llm_codes[pipe]
    arch = np.where(
        is_llm, rng.integers(0, len(LLM_ARCHS), n), len(LLM_ARCHS) + rng.integers(0, len(OTHER_ARCHS), n)
    )[root]
    params = np.where(
        is_llm,
        np.exp(np.log(LLM_PARAMS_MEDIAN) + LLM_PARAMS_SIGMA * rng.standard_normal(n)),
        np.exp(np.log(OTHER_PARAMS_MEDIAN) + OTHER_PARAMS_SIGMA * rng.standard_normal(n)),
    ).astype(np.int64)[root]
    library = _libraries(rng, pipelines, pipe, relation, namespace, names)

    null_pipe = np.array([p is None for p in pipelines])[pipe]
    pipe = np.where(null_pipe, -1, pipe)
    has_card = rng.random(n) < CARD_SHARE
    model_index = np.where(
        has_card & (rng.random(n) < MODEL_INDEX_SHARE), np.minimum(rng.geometric(MODEL_INDEX_P, n), 60), 0
    ).astype(np.int8)
    gguf = library == LIBRARIES.index("gguf")
    has_safetensors = ~gguf & (rng.random(n) < SAFETENSORS_SHARE)

    ids, external_ids = _model_ids(rng, n, names, namespace, relation, root, arch, params, external.shape[0])
    return Universe(
        config=cfg,
        created=created,
        relation=relation,
        uploader=uploader,
        namespace=namespace,
        namespaces=names,
        rate=rate,
        edge_offsets=edge_offsets,
        edge_parent=parent,
        external_ids=external_ids,
        root=root,
        pipeline=pipe.astype(np.int16),
        pipelines=pipelines,
        library=library,
        arch=arch.astype(np.int16),
        params=params,
        has_safetensors=has_safetensors,
        has_card=has_card,
        model_index=model_index,
        card_style=rng.integers(0, 100, n).astype(np.uint8),
        features=_features(rng, relation, is_llm, library, model_index),
        languages=_languages(rng, n),
        datasets=np.where(rng.random((n, 2)) < [0.25, 0.08], rng.integers(0, 2000, (n, 2)), -1).astype(np.int16),
        arxiv=np.where(rng.random(n) < 0.2, rng.integers(0, 5000, n), -1).astype(np.int16),
        license=rng.integers(0, 8, n).astype(np.int8),
        likes_noise=rng.standard_normal(n).astype(np.float32),
        prior_noise=rng.standard_normal(n).astype(np.float32),
        launch=np.rint(np.exp(np.log(LAUNCH_MEDIAN) + LAUNCH_SIGMA * rng.standard_normal(n))).astype(np.int64),
        modified_gap=(np.exp(np.log(3.0) + 2.0 * rng.standard_normal(n)) * US_PER_DAY).astype(np.int64),
        ids=ids,
    )


def _libraries(
    rng: np.random.Generator,
    pipelines: tuple,
    pipe: np.ndarray,
    relation: np.ndarray,
    namespace: np.ndarray,
    names: pl.Series,
) -> np.ndarray:
    n = pipe.shape[0]
    family = np.array(
        [
            "llm" if p in LLM_PIPELINES
            else "diffusion" if p in ("text-to-image", "image-to-image")
            else "rl" if p == "reinforcement-learning"
            else "embedding" if p in ("feature-extraction", "sentence-similarity")
            else "other"
            for p in pipelines
        ]
    )[pipe]
    lib_index = {name: i for i, name in enumerate(LIBRARIES)}
    library = np.full(n, -1, dtype=np.int16)
    for fam, probs in _LIB_BY_FAMILY.items():
        rows = np.flatnonzero(family == fam)
        draw, keys = _categorical(rng, probs, rows.shape[0])
        library[rows] = np.array([lib_index.get(k, -1) for k in keys])[draw]
    u = rng.random(n)
    adapter = relation == RELATIONS.index("adapter")
    library[adapter & (u < 0.85)] = np.where(family[adapter & (u < 0.85)] == "diffusion", lib_index["diffusers"], lib_index["peft"])
    quant = relation == RELATIONS.index("quantized")
    library[quant] = np.where(u[quant] < 0.55, lib_index["gguf"], np.where(u[quant] < 0.85, lib_index["transformers"], lib_index["mlx"]))
    mlx_ns = (names == "mlx-community").arg_true()
    if mlx_ns.len():
        library[quant & (namespace == mlx_ns[0])] = lib_index["mlx"]
    library[relation == RELATIONS.index("merge")] = lib_index["transformers"]
    return library


# Optional tags: (tag, probability, which models may carry it). Sample: median 14 tags per model (LLM-heavy).
FEATURE_TAGS = (
    ("endpoints_compatible", 0.70, "any"),
    ("region:us", 0.98, "any"),
    ("conversational", 0.60, "llm"),
    ("text-generation-inference", 0.70, "llm"),
    ("autotrain_compatible", 0.30, "any"),
    ("custom_code", 0.05, "any"),
    ("deploy:azure", 0.03, "any"),
    ("generated_from_trainer", 0.40, "trained"),
    ("trl", 0.30, "trained"),
    ("sft", 0.20, "trained"),
    ("unsloth", 0.10, "trained"),
    ("mergekit", 0.90, "merge"),
    ("4-bit", 0.40, "quantized"),
    ("imatrix", 0.20, "gguf"),
    ("llama-cpp", 0.30, "gguf"),
    ("model-index", 1.00, "model-index"),
)
N_LANGUAGES = 24


def _features(
    rng: np.random.Generator, relation: np.ndarray, is_llm: np.ndarray, library: np.ndarray, model_index: np.ndarray
) -> np.ndarray:
    n = relation.shape[0]
    eligible = {
        "any": np.ones(n, dtype=bool),
        "llm": is_llm,
        "trained": np.isin(relation, [RELATIONS.index("finetune"), RELATIONS.index("adapter")]),
        "merge": relation == RELATIONS.index("merge"),
        "quantized": relation == RELATIONS.index("quantized"),
        "gguf": library == LIBRARIES.index("gguf"),
        "model-index": model_index > 0,
    }
    bits = np.zeros(n, dtype=np.uint32)
    for i, (_, p, who) in enumerate(FEATURE_TAGS):
        bits |= ((rng.random(n) < p) & eligible[who]).astype(np.uint32) << np.uint32(i)
    return bits


def _languages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Up to two distinct language codes per model (45 % declare one, 12 % a second)."""
    first = rng.integers(0, N_LANGUAGES, n)
    second = (first + rng.integers(1, N_LANGUAGES, n)) % N_LANGUAGES
    out = np.stack([first, second], axis=1)
    out[rng.random(n) >= 0.45, :] = -1
    out[rng.random(n) >= 0.27, 1] = -1
    return out.astype(np.int8)


SIZE_LABELS = ("60m", "135m", "350m", "500m", "1b", "1.5b", "3b", "4b", "7b", "8b", "14b", "32b", "70b", "235b", "671b")
SIZE_EDGES = np.array([1e8, 2.5e8, 4.5e8, 8e8, 1.3e9, 2.2e9, 3.5e9, 5.5e9, 7.5e9, 1.1e10, 2.3e10, 5e10, 1.5e11, 4.5e11])
SUFFIXES = (
    ("base", "v1", "v2", "instruct"),
    ("sft", "dpo", "instruct", "grpo"),
    ("lora", "qlora", "adapter", "lora-r16"),
    ("GGUF", "AWQ", "GPTQ-Int4", "4bit"),
    ("merge", "slerp", "ties", "dare"),
)


def _model_ids(
    rng: np.random.Generator,
    n: int,
    names: pl.Series,
    namespace: np.ndarray,
    relation: np.ndarray,
    root: np.ndarray,
    arch: np.ndarray,
    params: np.ndarray,
    n_external: int,
) -> tuple[pl.Series, pl.Series]:
    """'namespace/arch-size-suffix-k', unique by construction (k is the model's index)."""
    archs = pl.Series([*LLM_ARCHS, *OTHER_ARCHS])
    sizes = pl.Series(SIZE_LABELS)
    suffix_vocab = pl.Series([s for group in SUFFIXES for s in group])
    suffix = relation.astype(np.int64) * 4 + rng.integers(0, 4, n)
    frame = pl.DataFrame(
        {
            "ns": names.gather(namespace),
            "arch": archs.gather(arch[root]),
            "size": sizes.gather(np.searchsorted(SIZE_EDGES, params)),
            "suffix": suffix_vocab.gather(suffix),
            "k": np.arange(n),
        }
    )
    ids = frame.select(pl.format("{}/{}-{}-{}-{}", "ns", "arch", "size", "suffix", "k")).to_series().alias("id")
    ext = pl.select(pl.format("user-{}/private-{}", pl.int_range(n_external) * 7 % max(n // 3, 1), pl.int_range(n_external))).to_series()
    return ids, ext.alias("id")
