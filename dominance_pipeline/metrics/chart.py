"""The CN and US shares over time as a PNG: download, derivative and new-model share side by side.

Solid lines are the `direct` view, dashed the `lineage` view, all on the `all` denominator (derivative
share exists in the lineage view only). Every month is a marker, so a single month still shows, and a
month missing from the series is a break in the line, not an interpolation.
"""

from __future__ import annotations

import datetime as dt
import io

import polars as pl

PANELS = (("download_share", "Download share (30-day)"), ("derivative_share", "Derivative share (new, >5 downloads)"), ("new_model_share", "New-model share (originals)"))
COLOURS = {"CN": "#d62728", "US": "#1f77b4"}
STYLES = {"direct": "-", "lineage": "--"}


def series(ts: pl.DataFrame, index: str, view: str, country: str) -> tuple[list[dt.date], list[float]]:
    """One line's months and values, NaN (a break) in every month between its first and last without a value:
    a month missing from the series, or one where the index has no rows (no original model created, say)."""
    rows = ts.filter(
        (pl.col("index") == index) & (pl.col("view") == view) & (pl.col("denominator") == "all") & (pl.col("country") == country)
    )
    points = dict(rows.select("month", "value").iter_rows())
    if not points:
        return [], []
    months = pl.date_range(min(points), max(points), "1mo", eager=True).to_list()
    return months, [points.get(m, float("nan")) for m in months]


def share_chart(ts: pl.DataFrame, crossovers: dict[tuple[str, str], dt.date] | None = None) -> bytes:
    """The chart as PNG bytes. `crossovers` maps (index, view) to its crossover month, drawn as a vertical line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    months = sorted(set(ts.get_column("month").to_list()))
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4.2), sharey=False)
    try:
        for ax, (index, title) in zip(axes, PANELS, strict=True):
            drawn = False
            for view, style in STYLES.items():
                for country, colour in COLOURS.items():
                    x, y = series(ts, index, view, country)
                    if x:
                        ax.plot(x, y, style, marker="o", color=colour, label=f"{country} {view}")
                        drawn = True
            for view, style in STYLES.items():
                if crossovers and (index, view) in crossovers:
                    ax.axvline(crossovers[(index, view)], color="grey", linewidth=1, linestyle=style, label=f"crossover {view}")
            if not drawn:
                ax.text(0.5, 0.5, "no rows in these months", ha="center", va="center", transform=ax.transAxes, color="grey")
            ax.set_title(title, fontsize=11)
            ax.set_ylim(0, 1)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, len(months) // 8 + 1)))
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
            ax.grid(alpha=0.3)
            if months:
                pad = dt.timedelta(days=20)
                ax.set_xlim(months[0] - pad, months[-1] + pad)
            for label in ax.get_xticklabels():
                label.set_rotation(30)
            if drawn:
                ax.legend(fontsize=8, loc="best")
        span = f"{months[0]:%Y-%m} to {months[-1]:%Y-%m}" if months else "no months"
        fig.suptitle(f"China vs US on the Hugging Face Hub, {span} (denominator: all; solid = direct, dashed = lineage)", fontsize=12)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        return buf.getvalue()
    finally:
        plt.close(fig)
