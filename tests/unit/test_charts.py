"""The dashboard's SVG charts: columns of leads by stage keep their width whatever the range."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from aiohttp import web

from bot.web.charts import WIDTH, stacked_columns
from bot.web.html import setup_templates

SVG = "{http://www.w3.org/2000/svg}"
STAGES = ("cold", "warm", "hot")


def _svg(periods: int) -> ET.Element:
    """The "leads by stage over time" chart of ``periods`` days, as the dashboard draws it."""
    rows: list[dict[str, int | str]] = [
        {"period": f"2026-11-{day:02}", "cold": 3, "warm": 2, "hot": 1}
        for day in range(1, periods + 1)
    ]
    template = setup_templates(web.Application()).from_string(
        '{% from "leads/dashboard_chart.html" import svg %}{{ svg(chart, "stages", "Leads") }}'
    )
    return ET.fromstring(template.render(chart=stacked_columns(rows, STAGES)))


def _columns(svg: ET.Element) -> list[tuple[float, float]]:
    """Each column's (x, width): its stacked segments share both."""
    segments = [rect for rect in svg.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    return sorted({(float(r.get("x", "")), float(r.get("width", ""))) for r in segments})


@pytest.mark.parametrize(
    "periods",
    [
        # one day: one column, not one filling the chart
        1,
        # two days
        2,
        # a week
        7,
    ],
)
def test_a_short_range_draws_columns_as_wide_as_a_longer_ones(periods: int) -> None:
    [(_, usual)] = {(0, width) for _, width in _columns(_svg(8))}
    columns = _columns(_svg(periods))
    assert len(columns) == periods
    assert {width for _, width in columns} == {usual}


def test_a_single_column_stands_in_the_middle_over_its_label() -> None:
    svg = _svg(1)
    [(x, width)] = _columns(svg)
    assert width < WIDTH / 8
    [tick] = [text for text in svg.iter(f"{SVG}text") if text.text == "2026-11-01"]
    assert x + width / 2 == pytest.approx(float(tick.get("x", ""))) == pytest.approx(WIDTH / 2)
