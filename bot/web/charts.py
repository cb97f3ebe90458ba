"""Charts of the dashboard drawn on the server: the geometry of each, for SVG templates.

These functions only place bars; ``templates/leads/dashboard_chart.html`` draws
them as inline SVG, so every label reaches the page through the templates'
escaping. Colours are SVG presentation attributes, which the lead pages'
Content-Security-Policy (no inline styles) allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH = 640
LABEL_WIDTH = 180
VALUE_WIDTH = 110
ROW_HEIGHT = 26
BAR_HEIGHT = 18
PLOT_HEIGHT = 200
AXIS_HEIGHT = 40
MAX_LABEL_CHARS = 26
# The widest a column gets: as wide as with 8 periods, so a range of one or two
# periods draws columns like any other range's instead of filling the chart.
MAX_COLUMN_WIDTH = 62
BAR_COLOUR = "#2f6fb0"
# One colour a stage, the same in the legend and the columns.
SERIES_COLOURS = {"cold": "#8aa4bf", "warm": "#e0a030", "hot": "#c8402a"}


@dataclass(frozen=True)
class Bar:
    """One rectangle with its label; ``label`` is shown whole in its tooltip (``<title>``)."""

    label: str
    text: str
    x: float
    y: float
    width: float
    height: float
    colour: str

    @property
    def short_label(self) -> str:
        """The label as it fits beside the bars."""
        if len(self.label) <= MAX_LABEL_CHARS:
            return self.label
        return self.label[: MAX_LABEL_CHARS - 1] + "…"


@dataclass(frozen=True)
class Tick:
    """A label under the horizontal axis."""

    label: str
    x: float


@dataclass(frozen=True)
class Chart:
    """A chart's size, bars, axis labels and legend, ready for the SVG template."""

    kind: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...] = ()
    legend: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        """Whether there is nothing to draw."""
        return not self.bars


def horizontal_bars(rows: Sequence[tuple[str, float, str]]) -> Chart:
    """One bar a row (label, value, text shown after the bar), scaled to the largest value."""
    largest = max((value for _, value, _ in rows), default=0) or 1
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = tuple(
        Bar(
            label=label,
            text=text,
            x=LABEL_WIDTH,
            y=index * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
            width=round(room * max(value, 0) / largest, 1),
            height=BAR_HEIGHT,
            colour=BAR_COLOUR,
        )
        for index, (label, value, text) in enumerate(rows)
    )
    return Chart("bars", WIDTH, max(len(rows), 1) * ROW_HEIGHT, bars)


def stacked_columns(
    periods: Sequence[Mapping[str, int | str]], series: Sequence[str], *, key: str = "period"
) -> Chart:
    """One column a period, a segment a series, stacked from the axis up."""
    totals = [sum(int(period[name]) for name in series) for period in periods]
    largest = max(totals, default=0) or 1
    step = (WIDTH - 20) / max(len(periods), 1)
    column = max(min(step * 0.8, MAX_COLUMN_WIDTH), 1)
    bars: list[Bar] = []
    ticks: list[Tick] = []
    # Label at most about 8 periods so the dates do not overlap.
    every = max(1, -(-len(periods) // 8))
    for index, period in enumerate(periods):
        x = 10 + index * step + (step - column) / 2
        base = float(PLOT_HEIGHT)
        for name in series:
            count = int(period[name])
            if not count:
                continue
            height = PLOT_HEIGHT * count / largest
            base -= height
            bars.append(
                Bar(
                    label=f"{period[key]} {name}",
                    text=str(count),
                    x=round(x, 1),
                    y=round(base, 1),
                    width=round(column, 1),
                    height=round(height, 1),
                    colour=SERIES_COLOURS.get(name, BAR_COLOUR),
                )
            )
        if index % every == 0:
            ticks.append(Tick(str(period[key]), round(x + column / 2, 1)))
    legend = tuple((name, SERIES_COLOURS.get(name, BAR_COLOUR)) for name in series)
    return Chart("columns", WIDTH, PLOT_HEIGHT + AXIS_HEIGHT, tuple(bars), tuple(ticks), legend)
