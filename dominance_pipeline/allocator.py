"""Polars' memory allocator (jemalloc), configured before polars is first imported.

At Hub scale about a sixth of the pipeline's CPU time is the kernel's: handing out fresh pages (~900,000
page faults for the 3M-model core). jemalloc gives a process four arenas per CPU and assigns each thread
one; memory a thread frees is reused only by the threads of its arena, and a buffer over 8 MiB goes to an
arena of its own that gives it back to the kernel at once. The pipeline's threads (the listing's reader,
the normalise workers, polars' pool, the tagging's side thread) hand large buffers to one another, so the
next batch's buffers come as fresh pages instead of reused ones. One arena per two CPUs, with large buffers
in it, cuts the page faults by a fifth; keeping freed pages 1 s before returning them to the kernel (polars
keeps them 0.5 s) spares another 30,000-40,000 for ~20-35 MB more at the peak (see README, "Where the time
goes").

Polars reads `_RJEM_MALLOC_CONF` once, when it is first imported, and writes its own settings into it
first: a value already there (the user's, one inherited from the process that started this one, or polars'
own in a process that imported polars before this package) is left as it is. DOMINANCE_ALLOCATOR=polars
keeps polars' own settings.
"""

from __future__ import annotations

import os

JEMALLOC_ENV = "_RJEM_MALLOC_CONF"
SETTING_ENV = "DOMINANCE_ALLOCATOR"


# How long freed pages stay with polars before they go back to the kernel (jemalloc's dirty_decay_ms;
# polars' own is 500). Added after polars' settings, so it is the one jemalloc keeps.
DIRTY_DECAY_MS = 1000


def jemalloc_conf(cpus: int | None) -> str:
    """The settings added to polars' own: one arena per two CPUs (at least one), large buffers in them, and
    freed pages kept DIRTY_DECAY_MS."""
    return f"narenas:{max(1, (cpus or 1) // 2)},oversize_threshold:0,dirty_decay_ms:{DIRTY_DECAY_MS}"


def configure() -> str | None:
    """Set `_RJEM_MALLOC_CONF` for polars unless it is too late or not ours to set; returns what was set."""
    if JEMALLOC_ENV in os.environ or os.environ.get(SETTING_ENV, "").strip().lower() == "polars":
        return None
    conf = jemalloc_conf(os.cpu_count())
    os.environ[JEMALLOC_ENV] = conf
    return conf
