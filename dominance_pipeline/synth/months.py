"""Month-end snapshots of a synthetic universe, written as hub-stats-shaped Parquet files.

Each month is the prefix of the universe created by its last second. 30-day downloads are Poisson around
the model's latent rate times a monthly lognormal shock (and a ramp for models younger than 30 days);
all-time downloads are the pre-window history plus every generated month's downloads, so they never fall;
likes follow all-time downloads (the sample's regression), so they never fall either.

Files are written in row groups of ROW_GROUP_ROWS (DuckDB's default, as in the bundled real sample, whose
file DuckDB wrote when the rows were copied out of hub-stats: hub-stats' own row groups and codec are not
known here), built CHUNK_ROWS rows at a time, so memory stays at the universe's arrays plus one chunk.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dominance_pipeline.sources.normalise import PLACEHOLDER_CREATED_AT
from dominance_pipeline.storage.parquet import publishing
from dominance_pipeline.synth.hub import (
    FEATURE_TAGS,
    LIBRARIES,
    LLM_ARCHS,
    N_LANGUAGES,
    OTHER_ARCHS,
    RELATIONS,
    US_PER_DAY,
    US_PER_MONTH,
    Universe,
    month_end,
    to_us,
)

SOURCE_KEY = "source"
SYNTHETIC = "synthetic"
FILE_PATTERN = "hub_stats_{month:%Y-%m}.parquet"
ROW_GROUP_ROWS = 122_880
CHUNK_ROWS = 4 * ROW_GROUP_ROWS
# Dictionary-encode only the low-cardinality columns: trying it on ids and cards doubles the write time.
DICTIONARY_COLUMNS = ["author", "pipeline_tag", "library_name"]

# All-time downloads before the first generated month: rate * PRIOR_SCALE * age_months ** PRIOR_GAMMA,
# times a lognormal shock. Matches the sample's median all-time / 30-day ratio (46) at its median age (18
# months): older models were downloaded more in the past than now.
PRIOR_SCALE, PRIOR_GAMMA, PRIOR_SIGMA = 1.07, 1.3, 0.5
MONTH_SIGMA = 0.35  # month-to-month lognormal shock of 30-day downloads
# log(likes + 1) = LIKES_A + LIKES_B * log(all-time + 1) + LIKES_SIGMA * noise: least squares on the sample.
LIKES_A, LIKES_B, LIKES_SIGMA = -1.945, 0.486, 1.147
TRENDING_PER_LIKE = 0.1  # trendingScore ~ likes gained this month / 10 (sample: 94 % zero)

SAFETENSORS_DTYPES = (
    "BF16", "F32", "F8_E4M3", "U8", "I64", "F8_E8M0", "I8", "I32", "F16", "U32",
    "BOOL", "I16", "U16", "C64", "F64", "miku", "fastllm", "F8_E5M2", "U64", "F6_E2M3",
)  # fmt: skip
_SAFETENSORS = pa.struct(
    [pa.field("parameters", pa.struct([pa.field(d, pa.int64()) for d in SAFETENSORS_DTYPES])), pa.field("total", pa.int64())]
)
_BASE_MODELS = pa.struct(
    [
        pa.field("relation", pa.string()),
        pa.field("models", pa.list_(pa.struct([pa.field("_id", pa.string()), pa.field("id", pa.string())]))),
    ]
)
# The real sample's schema, column for column (a test compares them).
HUB_STATS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("author", pa.string()),
        pa.field("createdAt", pa.timestamp("us")),
        pa.field("lastModified", pa.timestamp("us")),
        pa.field("downloads", pa.int64()),
        pa.field("downloadsAllTime", pa.int64()),
        pa.field("likes", pa.int64()),
        pa.field("trendingScore", pa.float64()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("cardData", pa.string()),
        pa.field("safetensors", _SAFETENSORS),
        pa.field("gguf", pa.string()),
        pa.field("baseModels", _BASE_MODELS),
        pa.field("pipeline_tag", pa.string()),
        pa.field("library_name", pa.string()),
    ]
)

LANGUAGES = ("en", "zh", "fr", "de", "es", "ja", "ko", "ru", "ar", "pt", "it", "vi", "id", "tr", "hi", "nl", "pl",
             "sv", "th", "uk", "fa", "he", "cs", "multilingual")  # fmt: skip
assert len(LANGUAGES) == N_LANGUAGES
LICENSES = ("apache-2.0", "mit", "other", "llama3.1", "cc-by-nc-4.0", "gemma", "openrail", "cc-by-4.0")
N_DATASETS, N_ARXIV = 2000, 5000
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Feature tags that the card's own `tags:` list repeats (training and conversion tools).
CARD_TAGS = [i for i, (_, _, who) in enumerate(FEATURE_TAGS) if who in ("trained", "merge", "quantized")]
_RESULT = (
    '{"task": {"type": "text-generation", "name": "Text Generation"}, "dataset": {"name": "IFEval (0-Shot)", '
    '"type": "HuggingFaceH4/ifeval", "args": {"num_few_shot": 0}}, "metrics": [{"type": "inst_level_strict_acc", '
    '"value": 41.7, "name": "strict accuracy"}], "source": {"url": "https://huggingface.co/spaces/open-llm-leaderboard", '
    '"name": "Open LLM Leaderboard"}}'
)


@dataclass(frozen=True)
class MonthState:
    """The per-model counters of one month-end snapshot (arrays over the first `n` models of the universe)."""

    month: dt.date
    snapshot_us: int
    n: int
    downloads: np.ndarray
    all_time: np.ndarray
    likes: np.ndarray
    trending: np.ndarray
    last_modified: np.ndarray


def _likes(all_time: np.ndarray, noise: np.ndarray) -> np.ndarray:
    raw = np.exp(LIKES_A + LIKES_B * np.log1p(all_time) + LIKES_SIGMA * noise) - 1
    return np.maximum(np.floor(raw), 0).astype(np.int64)


def evolve(u: Universe) -> Iterator[MonthState]:
    """The universe's month-end snapshots, oldest first; counters only ever grow from one to the next."""
    cfg = u.config
    first = cfg.month_starts[0]
    first_us = to_us(dt.datetime(first.year, first.month, 1, tzinfo=dt.UTC))
    age = np.maximum(first_us - u.created, 0) / US_PER_MONTH
    shock = np.exp(PRIOR_SIGMA * u.prior_noise - PRIOR_SIGMA**2 / 2)
    cumulative = np.rint(u.rate * PRIOR_SCALE * age**PRIOR_GAMMA * shock).astype(np.int64)
    cumulative += np.where(u.created < first_us, u.launch, 0)
    for month in cfg.month_starts:
        end = to_us(month_end(month))
        start = u.count_at(to_us(dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)) - 1)
        n = u.count_at(end)
        rng = np.random.default_rng([cfg.seed, month.year * 12 + month.month])
        ramp = np.clip((end - u.created[:n]) / (30 * US_PER_DAY), 0.0, 1.0)
        noise = np.exp(MONTH_SIGMA * rng.standard_normal(n) - MONTH_SIGMA**2 / 2)
        downloads = rng.poisson(u.rate[:n] * ramp * noise).astype(np.int64)
        downloads[start:n] += u.launch[start:n]
        before = cumulative[:n].copy()
        cumulative[:n] += downloads
        likes = _likes(cumulative[:n], u.likes_noise[:n])
        gained = likes - _likes(before, u.likes_noise[:n])
        yield MonthState(
            month=month,
            snapshot_us=end,
            n=n,
            downloads=downloads,
            all_time=cumulative[:n].copy(),
            likes=likes,
            trending=np.floor(gained * TRENDING_PER_LIKE).astype(np.float64),
            # The Hub stamped pre-2022 repos with a placeholder creation date; it never shows edits before it.
            last_modified=np.minimum(np.maximum(u.created[:n], to_us(PLACEHOLDER_CREATED_AT)) + u.modified_gap[:n], end),
        )


@cache
def _fixed_vocab() -> tuple[pa.Array, dict[str, int]]:
    """Every tag that is not a base-model link, in one string array; offsets of each group in it."""
    from dominance_pipeline.synth.hub import HUB_PIPELINES, REGISTRY_PIPELINES

    groups = {
        "library": list(LIBRARIES),
        "format": ["safetensors", "gguf"],
        "arch": [*LLM_ARCHS, *OTHER_ARCHS],
        "pipeline": [p for p in dict.fromkeys([*REGISTRY_PIPELINES, *HUB_PIPELINES]) if p is not None],
        "language": list(LANGUAGES),
        "dataset": [f"dataset:synth-data/corpus-{k}" for k in range(N_DATASETS)],
        "arxiv": [f"arxiv:{2301 + k // 1000 % 30}.{10000 + k * 7 % 90000:05d}" for k in range(N_ARXIV)],
        "license": [f"license:{lic}" for lic in LICENSES],
        "feature": [t for t, _, _ in FEATURE_TAGS],
    }
    offsets, values = {}, []
    for name, group in groups.items():
        offsets[name] = len(values)
        values += group
    return pa.array(values, pa.string()), offsets


def _pipeline_codes(u: Universe) -> np.ndarray:
    """Map the universe's pipeline index (None at its own index) to the vocabulary's non-null order."""
    non_null = [i for i, p in enumerate(u.pipelines) if p is not None]
    lookup = np.full(len(u.pipelines), -1, dtype=np.int64)
    lookup[non_null] = np.arange(len(non_null))
    return lookup


def _strings(values: pa.Array, codes: np.ndarray) -> pa.Array:
    """values[codes], null where code < 0."""
    return values.take(pa.array(np.maximum(codes, 0), mask=codes < 0))


def _edges(u: Universe, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (per row) and edge indices of the parents of `rows`."""
    starts = u.edge_offsets[rows]
    counts = u.edge_offsets[rows + 1] - starts
    offsets = np.concatenate([[0], np.cumsum(counts)])
    index = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
    return offsets, index


def _timestamps(us: np.ndarray) -> pa.Array:
    return pa.array(us.view("datetime64[us]"), pa.timestamp("us"))


def _tags(u: Universe, rows: np.ndarray, offsets: np.ndarray, parent_ids: pl.Series, edge_relation: pl.Series) -> pa.Array:
    """Each row's tags: fixed slots, then `base_model:X` and `base_model:<relation>:X` per parent, then features.

    Built as one code matrix (a column per slot, -1 = absent) read row-major, so no loop over models.
    """
    n = rows.shape[0]
    vocab, at = _fixed_vocab()
    counts = np.diff(offsets)
    library = u.library[rows].astype(np.int64)
    pipeline = _pipeline_codes(u)[np.maximum(u.pipeline[rows], 0)]
    pipeline[u.pipeline[rows] < 0] = -1
    fixed = [
        np.where(library >= 0, at["library"] + library, -1),
        np.where(u.has_safetensors[rows], at["format"], -1),  # a GGUF repo's "gguf" tag is its library tag
        at["arch"] + u.arch[rows].astype(np.int64),
        np.where(pipeline >= 0, at["pipeline"] + pipeline, -1),
        *[np.where(c >= 0, at["language"] + c, -1) for c in u.languages[rows].T.astype(np.int64)],
        *[np.where(c >= 0, at["dataset"] + c, -1) for c in u.datasets[rows].T.astype(np.int64)],
        np.where(u.arxiv[rows] >= 0, at["arxiv"] + u.arxiv[rows].astype(np.int64), -1),
        at["license"] + u.license[rows].astype(np.int64),
    ]
    bits = u.features[rows]
    features = [np.where((bits >> np.uint32(i)) & 1, at["feature"] + i, -1) for i in range(len(FEATURE_TAGS))]
    max_parents = int(counts.max()) if n else 0
    codes = np.full((n, len(fixed) + 2 * max_parents + len(features)), -1, dtype=np.int32)
    for j, col in enumerate(fixed):
        codes[:, j] = col
    n_edges = int(offsets[-1])
    edge_row = np.repeat(np.arange(n), counts)
    slot = len(fixed) + 2 * (np.arange(n_edges) - offsets[edge_row])
    base_code = len(vocab) + 2 * np.arange(n_edges)
    codes[edge_row, slot] = base_code
    codes[edge_row, slot + 1] = base_code + 1
    for j, col in enumerate(features):
        codes[:, len(fixed) + 2 * max_parents + j] = col
    present = codes >= 0
    base_tags = (
        pl.DataFrame({"p": parent_ids, "r": edge_relation})
        .select(pl.concat_list(pl.format("base_model:{}", "p"), pl.format("base_model:{}:{}", "r", "p")).explode())
        .to_series()
        .to_arrow()
        .cast(pa.string())
    )
    values = pa.concat_arrays([vocab, base_tags]).take(pa.array(codes[present]))
    return pa.ListArray.from_arrays(pa.array(np.concatenate([[0], np.cumsum(present.sum(axis=1))]).astype(np.int32)), values)


def _safetensors(u: Universe, rows: np.ndarray) -> pa.Array:
    """{parameters: {BF16 | F32: total, every other dtype null}, total}, null for repos without safetensors."""
    n = rows.shape[0]
    params = u.params[rows]
    bf16 = u.arch[rows] < len(LLM_ARCHS)  # LLMs ship BF16 weights, the rest F32
    fields = [
        pa.array(params, mask=~bf16) if d == "BF16" else pa.array(params, mask=bf16) if d == "F32" else pa.nulls(n, pa.int64())
        for d in SAFETENSORS_DTYPES
    ]
    parameters = pa.StructArray.from_arrays(fields, names=list(SAFETENSORS_DTYPES))
    return pa.StructArray.from_arrays([parameters, pa.array(params)], fields=list(_SAFETENSORS), mask=pa.array(~u.has_safetensors[rows]))


def _chunk(u: Universe, st: MonthState, rows: np.ndarray, all_ids: pl.Series) -> pa.Table:
    """`rows` of the month as an Arrow table in HUB_STATS_SCHEMA."""
    vocab, at = _fixed_vocab()
    offsets, edge = _edges(u, rows)
    parent_ids = all_ids.gather(u.edge_parent[edge])
    counts = np.diff(offsets)
    has_base = counts > 0
    row_relation = pl.Series(RELATIONS).gather(u.relation[rows])
    edge_relation = row_relation.gather(np.repeat(np.arange(rows.shape[0]), counts))

    # baseModels: {relation, models: [{_id, id}]}, null for originals.
    parent_str = parent_ids.to_arrow().cast(pa.string())
    object_ids = pl.Series((u.edge_parent[edge] * 2654435761) % 10**18).cast(pl.String).str.zfill(24).to_arrow().cast(pa.string())
    models = pa.ListArray.from_arrays(
        pa.array(offsets.astype(np.int32)), pa.StructArray.from_arrays([object_ids, parent_str], names=["_id", "id"])
    )
    base_models = pa.StructArray.from_arrays(
        [row_relation.to_arrow().cast(pa.string()), models], fields=list(_BASE_MODELS), mask=pa.array(~has_base)
    )
    library = u.library[rows].astype(np.int64)
    pipeline = _pipeline_codes(u)[np.maximum(u.pipeline[rows], 0)]
    created = u.created[rows]
    placeholder = to_us(PLACEHOLDER_CREATED_AT)
    arrays = [
        u.ids.gather(rows).to_arrow().cast(pa.string()),
        u.namespaces.gather(u.namespace[rows]).to_arrow().cast(pa.string()),
        _timestamps(np.where(created < placeholder, placeholder, created)),
        _timestamps(st.last_modified[rows]),
        pa.array(st.downloads[rows]),
        pa.array(st.all_time[rows]),
        pa.array(st.likes[rows]),
        pa.array(st.trending[rows]),
        _tags(u, rows, offsets, parent_ids, edge_relation),
        _card_data(u, rows, parent_str, offsets, has_base, row_relation),
        _safetensors(u, rows),
        _gguf(u, rows),
        base_models,
        _strings(vocab, np.where(u.pipeline[rows] >= 0, at["pipeline"] + pipeline, -1)),
        _strings(vocab, np.where(library >= 0, at["library"] + library, -1)),
    ]
    return pa.Table.from_arrays(arrays, schema=HUB_STATS_SCHEMA)


def _cat(*parts: str | pl.Expr) -> pl.Expr:
    """Concatenate literal strings and expressions (pl.format would read the JSON braces as placeholders)."""
    return pl.concat_str([pl.lit(p) if isinstance(p, str) else p for p in parts])


def _card_data(
    u: Universe, rows: np.ndarray, parent_str: pa.Array, offsets: np.ndarray, has_base: np.ndarray, relation: pl.Series
) -> pa.Array:
    """cardData as the Hub stores it: the model card's YAML header as a JSON string (null without a card)."""
    n = rows.shape[0]
    languages = pl.Series(LANGUAGES)
    lang = u.languages[rows].astype(np.int64)
    parents = pl.Series(pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), parent_str))
    counts = np.diff(offsets)
    style = u.card_style[rows]
    single = (counts == 1) & (style < 70)  # the sample writes a lone base as a string 70 % of the time
    lib = u.library[rows].astype(np.int64)
    pipe = u.pipeline[rows].astype(np.int64)
    ds = u.datasets[rows].astype(np.int64)
    frame = pl.DataFrame(
        {
            "id": u.ids.gather(rows),
            "license": pl.Series(LICENSES).gather(u.license[rows]),
            "lang1": languages.gather(np.maximum(lang[:, 0], 0)).scatter(np.flatnonzero(lang[:, 0] < 0), None),
            "lang2": languages.gather(np.maximum(lang[:, 1], 0)).scatter(np.flatnonzero(lang[:, 1] < 0), None),
            "lib": pl.Series(LIBRARIES).gather(np.maximum(lib, 0)).scatter(np.flatnonzero(lib < 0), None),
            "pipe": pl.Series([p or "" for p in u.pipelines]).gather(np.maximum(pipe, 0)).scatter(np.flatnonzero(pipe < 0), None),
            "parents": parents,
            "single": single,
            "has_base": has_base,
            "relation": relation,
            "explicit_relation": has_base & (style >= 99),  # base_model_relation: 1 % of the sample's cards
            "ds1": np.where(ds[:, 0] >= 0, ds[:, 0], -1),
            "ds2": np.where(ds[:, 1] >= 0, ds[:, 1], -1),
            "mi": u.model_index[rows].astype(np.int64),
            **{f"tag{i}": (u.features[rows] >> np.uint32(i)) & 1 == 1 for i in CARD_TAGS},
            "card": u.has_card[rows],
        }
    )
    col = pl.col
    piece = lambda cond, *parts: pl.when(cond).then(_cat(*parts))  # noqa: E731
    base = pl.when(col("single")).then(_cat('"', col("parents").list.first(), '"')).otherwise(
        _cat('["', col("parents").list.join('", "'), '"]')
    )
    second_lang = pl.when(col("lang2").is_not_null()).then(_cat('", "', col("lang2"))).otherwise(pl.lit(""))
    second_ds = pl.when(col("ds2") >= 0).then(_cat('", "synth-data/corpus-', col("ds2").cast(pl.String))).otherwise(pl.lit(""))
    results = pl.lit(_RESULT).repeat_by(col("mi")).list.join(", ")
    card_tags = pl.concat_list([pl.when(col(f"tag{i}")).then(pl.lit(FEATURE_TAGS[i][0])) for i in CARD_TAGS]).list.drop_nulls()
    other_license = col("license") == "other"
    json_text = pl.concat_str(
        [
            _cat('{"license": "', col("license"), '"'),
            piece(other_license, ', "license_name": "synth-community-license", "license_link": "https://huggingface.co/',
                  col("id"), '/blob/main/LICENSE"'),
            piece(col("lang1").is_not_null(), ', "language": ["', col("lang1"), second_lang, '"]'),
            piece(col("lib").is_not_null(), ', "library_name": "', col("lib"), '"'),
            piece(col("has_base"), ', "base_model": ', base),
            piece(col("explicit_relation"), ', "base_model_relation": "', col("relation"), '"'),
            piece(col("pipe").is_not_null(), ', "pipeline_tag": "', col("pipe"), '"'),
            piece(card_tags.list.len() > 0, ', "tags": ["', card_tags.list.join('", "'), '"]'),
            piece(col("ds1") >= 0, ', "datasets": ["synth-data/corpus-', col("ds1").cast(pl.String), second_ds, '"]'),
            piece(col("mi") > 0, ', "model-index": [{"name": "', col("id").str.split("/").list.last(), '", "results": [', results, "]}]"),
            pl.lit("}"),
        ],
        ignore_nulls=True,
    )
    out = frame.select(pl.when(pl.col("card")).then(json_text).alias("cardData")).to_series()
    assert out.len() == n
    return out.to_arrow().cast(pa.string())


def _gguf(u: Universe, rows: np.ndarray) -> pa.Array:
    """The GGUF header summary hub-stats stores for GGUF repos (null otherwise)."""
    is_gguf = u.library[rows] == LIBRARIES.index("gguf")
    archs = pl.Series([*LLM_ARCHS, *OTHER_ARCHS])
    template = json.dumps(CHAT_TEMPLATE)
    frame = pl.DataFrame({"total": u.params[rows], "arch": archs.gather(u.arch[rows]), "g": is_gguf})
    text = pl.when(pl.col("g")).then(
        _cat(
            '{"total": ', pl.col("total").cast(pl.String), ', "architecture": "', pl.col("arch"),
            '", "context_length": 32768, "chat_template": ', template, ', "bos_token": "<|endoftext|>", "eos_token": "<|im_end|>"}',
        )
    )
    return frame.select(text).to_series().to_arrow().cast(pa.string())


def write_month(u: Universe, st: MonthState, path: Path, order: np.ndarray) -> Path:
    """Write one month-end snapshot atomically, rows in the universe's fixed shuffled `order`."""
    rows = order[order < st.n]
    meta = {
        SOURCE_KEY: SYNTHETIC,
        "synthetic_config": json.dumps(
            {
                "models_newest_month": u.config.models,
                "months": u.config.months,
                "end": u.config.end_month.isoformat(),
                "seed": u.config.seed,
                "monthly_growth": u.config.monthly_growth,
                "cycles_per_million": u.config.cycles_per_million,
            }
        ),
        "snapshot_at": dt.datetime.fromtimestamp(st.snapshot_us / 1e6, dt.UTC).isoformat(),
    }
    all_ids = pl.concat([u.ids, u.external_ids])
    with publishing(path) as tmp, pq.ParquetWriter(
        tmp, HUB_STATS_SCHEMA.with_metadata(meta), compression="zstd", write_statistics=True, use_dictionary=DICTIONARY_COLUMNS
    ) as writer:
        for start in range(0, rows.shape[0], CHUNK_ROWS):
            writer.write_table(_chunk(u, st, rows[start : start + CHUNK_ROWS], all_ids), row_group_size=ROW_GROUP_ROWS)
    return path


def snapshot_name(month: dt.date) -> str:
    return FILE_PATTERN.format(month=month)

