"""The crossover month, the latest-month summary and the chart, on hand-made series."""

from __future__ import annotations

import datetime as dt
import math
import io

import polars as pl
import pytest

from dominance_pipeline.metrics import chart, timeseries
from dominance_pipeline.metrics.indices import gap_index, ratio_index
from dominance_pipeline.schemas import DOMINANCE_INDICES


def m(text: str) -> dt.date:
    return dt.date.fromisoformat(text + "-01")


def series(points: dict[str, tuple[float, float]], index: str = "download_share", view: str = "direct") -> pl.DataFrame:
    """Share rows for CN and US, plus their ratio and gap, for each month given as 'YYYY-MM': (cn, us)."""
    family = {"download_share": "download", "derivative_share": "derivative", "new_model_share": "new_model"}[index]
    rows = []
    for month, (cn, us) in points.items():
        for country, value in (("CN", cn), ("US", us)):
            rows.append((m(month), index, view, "all", country, value))
        if us > 0:
            rows.append((m(month), ratio_index(family), view, "all", None, cn / us))
        rows.append((m(month), gap_index(family), view, "all", None, cn - us))
    return pl.DataFrame(rows, schema=DOMINANCE_INDICES.columns, orient="row")


def crossover_of(df: pl.DataFrame, family: str = "download", view: str = "direct") -> dt.date | None:
    row = timeseries.crossover(df).filter((pl.col("family") == family) & (pl.col("view") == view))
    return row.get_column("crossover_month").item()


def test_first_month_of_three_consecutive_leads():
    # leads in 02 (alone), then 04, 05, 06, 07: the crossover is 2025-04
    df = series({"2025-01": (.3, .4), "2025-02": (.5, .4), "2025-03": (.3, .4), "2025-04": (.4, .4), "2025-05": (.5, .4), "2025-06": (.6, .3), "2025-07": (.6, .3)})
    assert crossover_of(df) == m("2025-04")  # a ratio of exactly 1 counts


def test_a_missing_month_breaks_the_run():
    df = series({"2025-01": (.5, .4), "2025-02": (.5, .4), "2025-04": (.5, .4), "2025-05": (.5, .4)})
    assert crossover_of(df) is None
    assert timeseries.missing_months([m("2025-01"), m("2025-02"), m("2025-04"), m("2025-05")]) == [m("2025-03")]
    df = series({"2024-11": (.5, .4), "2024-12": (.5, .4), "2025-01": (.5, .4)})  # across a year end
    assert crossover_of(df) == m("2024-11")


def test_no_us_share_counts_as_a_lead_only_if_china_has_one():
    assert crossover_of(series({"2025-01": (.1, 0), "2025-02": (.1, 0), "2025-03": (.1, 0)})) == m("2025-01")
    assert crossover_of(series({"2025-01": (0, 0), "2025-02": (.1, 0), "2025-03": (.1, 0)})) is None


def test_crossover_per_family_and_view():
    df = pl.concat([
        series({"2025-01": (.5, .4), "2025-02": (.5, .4), "2025-03": (.5, .4)}),
        series({"2025-01": (.3, .4), "2025-02": (.5, .4), "2025-03": (.5, .4)}, view="lineage"),
        series({"2025-01": (.6, .1), "2025-02": (.6, .1), "2025-03": (.6, .1)}, index="derivative_share", view="lineage"),
    ])
    cross = timeseries.crossover(df)
    assert cross.height == 3
    assert crossover_of(df, "download", "direct") == m("2025-01")
    assert crossover_of(df, "download", "lineage") is None
    assert crossover_of(df, "derivative", "lineage") == m("2025-01")
    row = cross.filter((pl.col("family") == "download") & (pl.col("view") == "lineage")).to_dicts()[0]
    assert row["months_observed"] == 3 and row["latest_ratio"] == pytest.approx(1.25)


def test_latest_markdown_shows_the_latest_month():
    df = series({"2025-01": (.3, .4), "2025-02": (.5, .25)})
    text = timeseries.latest_markdown(df)
    assert "**2025-02**" in text and "| download | direct | 50.00% | 25.00% | 2.000 |" in text


def test_chart_is_a_png_with_both_countries_drawn():
    import matplotlib.image as mpimg
    import numpy as np

    df = pl.concat([
        series({"2025-01": (.3, .4), "2025-02": (.5, .4), "2025-04": (.6, .3)}),
        series({"2025-01": (.3, .4), "2025-02": (.5, .4)}, index="new_model_share"),
    ])
    png = chart.share_chart(df, {("download_share", "direct"): m("2025-02")})
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(io.BytesIO(png), format="png")[:, :, :3]
    third = img.shape[1] // 3

    def has(colour: str, part: np.ndarray) -> bool:
        rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        return bool((np.abs(part - rgb).sum(axis=2) < 0.05).sum() > 50)

    download, derivative, new_model = img[:, :third], img[:, third : 2 * third], img[:, 2 * third :]
    for colour in chart.COLOURS.values():
        assert has(colour, download) and has(colour, new_model)
        assert not has(colour, derivative)  # no derivative data in this series: the panel says so instead


def test_the_chart_breaks_a_line_where_its_index_has_no_rows_not_only_where_a_month_is_missing():
    from dominance_pipeline.metrics.chart import series

    d = dt.date
    rows = [("download_share", m, 0.5) for m in (d(2026, 1, 1), d(2026, 2, 1), d(2026, 3, 1))]
    rows += [("new_model_share", d(2026, 1, 1), 0.3), ("new_model_share", d(2026, 3, 1), 0.3)]  # none created in 2026-02
    ts = pl.DataFrame(
        [(i, m, "direct", "all", "CN", v) for i, m, v in rows],
        schema={"index": pl.String, "month": pl.Date, "view": pl.String, "denominator": pl.String, "country": pl.String, "value": pl.Float64},
        orient="row",
    )
    months, values = series(ts, "new_model_share", "direct", "CN")
    assert months == [d(2026, 1, 1), d(2026, 2, 1), d(2026, 3, 1)]
    assert values[0] == values[2] == 0.3 and math.isnan(values[1])
    assert series(ts, "download_share", "direct", "CN")[1] == [0.5, 0.5, 0.5]


def test_crossover_reads_only_the_all_denominator():
    # Three months with CN ahead under both denominators, the attributed shares higher: counted once each.
    rows = []
    for month in (dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)):
        for den, cn, us in (("all", 0.5, 0.4), ("attributed", 0.55, 0.44)):
            rows += [(month, "download_share", "direct", den, "CN", cn), (month, "download_share", "direct", den, "US", us)]
            rows += [(month, ratio_index("download"), "direct", den, None, cn / us), (month, gap_index("download"), "direct", den, None, cn - us)]
    ts = pl.DataFrame(rows, schema=DOMINANCE_INDICES.columns, orient="row")
    got = timeseries.crossover(ts).filter((pl.col("family") == "download") & (pl.col("view") == "direct")).row(0, named=True)
    assert (got["months_observed"], got["crossover_month"]) == (3, dt.date(2025, 1, 1))
    assert got["latest_ratio"] == pytest.approx(1.25)


def test_chart_series_reads_only_its_own_view_and_the_all_denominator():
    # of the same months must not leak into the direct / all line.
    from dominance_pipeline.metrics.chart import series

    d = dt.date
    rows = []
    for month in (d(2026, 1, 1), d(2026, 2, 1)):
        rows += [
            ("download_share", month, "direct", "all", "CN", 0.4),
            ("download_share", month, "direct", "attributed", "CN", 0.6),
            ("download_share", month, "lineage", "all", "CN", 0.5),
            ("download_share", month, "lineage", "attributed", "CN", 0.7),
        ]
    ts = pl.DataFrame(
        rows,
        schema={"index": pl.String, "month": pl.Date, "view": pl.String, "denominator": pl.String, "country": pl.String, "value": pl.Float64},
        orient="row",
    )
    for order in (ts, ts.reverse()):  # whichever row comes last
        months, values = series(order, "download_share", "direct", "CN")
        assert months == [d(2026, 1, 1), d(2026, 2, 1)] and values == [0.4, 0.4]
        assert series(order, "download_share", "lineage", "CN")[1] == [0.5, 0.5]
        assert not any(math.isnan(v) for v in values)


def test_latest_markdown_reads_only_the_all_denominator():
    # The attributed rows of the same month (CN 60 %, US 30 %) come last and must not replace the `all` ones.
    df = series({"2025-02": (.5, .25)})
    attributed = df.with_columns(
        denominator=pl.lit("attributed"),
        value=pl.when(pl.col("country") == "CN").then(0.6).when(pl.col("country") == "US").then(0.3).otherwise(pl.col("value")),
    )
    for ts in (pl.concat([df, attributed]), pl.concat([attributed, df])):
        text = timeseries.latest_markdown(ts)
        assert "| download | direct | 50.00% | 25.00% | 2.000 |" in text
        assert "60.00%" not in text


def test_latest_markdown_keeps_a_family_where_only_china_has_a_share():
    # No US model in the month: no US row and no ratio row, but CN's share is still shown.
    df = series({"2025-02": (.5, 0.0)}).filter(pl.col("country").is_null() | (pl.col("country") == "CN"))
    assert "| download | direct | 50.00% | – | – |" in timeseries.latest_markdown(df)


def test_crossover_row_spans_the_first_and_last_observed_month():
    df = series({"2025-01": (.3, .4), "2025-02": (.5, .4), "2025-04": (.5, .2)})
    row = timeseries.crossover(df).row(0, named=True)
    assert (row["first_month"], row["last_month"], row["months_observed"]) == (m("2025-01"), m("2025-04"), 3)
    assert row["latest_ratio"] == pytest.approx(2.5)


CHART_SCHEMA = {"index": pl.String, "month": pl.Date, "view": pl.String, "denominator": pl.String, "country": pl.String, "value": pl.Float64}


def flat_line(view: str, months: int = 6, index: str = "download_share") -> pl.DataFrame:
    """CN at 50 % from 2025-01, for `months` months, one view, the `all` denominator: one horizontal red line."""
    return pl.DataFrame(
        [(index, dt.date(2025, k, 1), view, "all", "CN", 0.5) for k in range(1, months + 1)], schema=CHART_SCHEMA, orient="row"
    )


def panels(png: bytes) -> list:
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(png), format="png")[:, :, :3]
    third = img.shape[1] // 3
    return [img[:, i * third : (i + 1) * third] for i in range(3)]


def near(part, colour: str, tolerance: float):
    import numpy as np

    rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.abs(part - rgb).sum(axis=2) < tolerance


def red_run(panel):
    """The row of the horizontal red line, and the share of the columns between its ends that are red."""
    import numpy as np

    red = near(panel, chart.COLOURS["CN"], 0.3)
    row = int(red.sum(axis=1).argmax())
    band = red[row - 1 : row + 2].any(axis=0)
    cols = np.flatnonzero(band)
    return cols[0], cols[-1], float(band[cols[0] : cols[-1] + 1].mean())


def test_chart_draws_the_direct_view_solid_and_the_lineage_view_dashed():
    # The title says "solid = direct, dashed = lineage": a solid line covers every column between its ends.
    *_, direct = red_run(panels(chart.share_chart(flat_line("direct")))[0])
    *_, lineage = red_run(panels(chart.share_chart(flat_line("lineage")))[0])
    assert direct > 0.97
    assert lineage < 0.85


def grey_lines(panel) -> list[int]:
    """The columns of `panel` crossed by a grey vertical line (more than 150 grey pixels)."""
    import numpy as np

    return np.flatnonzero(near(panel, "#808080", 0.15).sum(axis=0) > 150).tolist()


def test_chart_draws_a_crossover_as_a_grey_vertical_line_at_its_month_in_its_own_panel():
    png = chart.share_chart(flat_line("direct"), {("download_share", "direct"): dt.date(2025, 3, 1)})
    download, derivative, new_model = panels(png)
    first, last, _ = red_run(download)  # the line's ends: the January and June markers
    [column] = grey_lines(download)
    # 2025-03-01 is 59 of the 151 days from 2025-01-01 to 2025-06-01
    assert abs((column - first) / (last - first) - 59 / 151) < 0.04
    assert grey_lines(derivative) == grey_lines(new_model) == []
    assert grey_lines(panels(chart.share_chart(flat_line("direct")))[0]) == []


def test_chart_shows_every_month_with_the_same_margin_on_both_sides():
    # x runs from 20 days before the first month to 20 days after the last: the line sits centred in its axes.
    import numpy as np

    download = panels(chart.share_chart(flat_line("direct", months=12)))[0]
    spines = np.flatnonzero(near(download, "#000000", 0.3).sum(axis=0) > 150)
    left, right = spines[0], spines[-1]
    first, last, _ = red_run(download)
    # 20 of the 374 days from 2024-12-12 to 2025-12-21 on each side, less a marker's radius: about 4 % of the width
    assert abs((first - left) - (right - last)) <= 3
    assert 0.02 < (first - left) / (right - left) < 0.06


def test_chart_closes_its_figure():
    # A code server renders the chart on every refresh: an open figure per call is a leak (and a matplotlib warning at 20).
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    chart.share_chart(flat_line("direct"))
    chart.share_chart(pl.DataFrame(schema=CHART_SCHEMA))
    assert set(plt.get_fignums()) == before


def test_chart_marks_a_single_month_and_says_so_in_a_panel_without_rows():
    # One month of download shares only: its markers show (there is no line to draw), and the two panels
    # without rows carry the grey "no rows in these months" in their middle, which the drawn panel does not.
    download, derivative, new_model = panels(chart.share_chart(flat_line("direct", months=1)))
    assert near(download, chart.COLOURS["CN"], 0.3).sum() > 20

    def grey_text(panel) -> int:
        h, w = panel.shape[:2]
        return int(near(panel[h // 3 : 2 * h // 3, w // 4 : 3 * w // 4], "#808080", 0.15).sum())

    assert grey_text(derivative) > 30 and grey_text(new_model) > 30
    assert grey_text(download) == 0
