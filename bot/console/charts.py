"""The dashboard's charts, rendered on the server as SVG strings to inline in the page.

Pure functions of a :class:`~bot.cases.stats.Dashboard`. The SVG carries no script and
loads nothing: pygal's tooltips need its script from a CDN, and an inlined SVG's script
would run inside the console page. Values are printed on the bars instead. It has no fixed
size, so CSS ``width: 100%`` fits it to a phone, and names fonts that draw Chinese on
Debian. A chart with nothing to show says 暂无数据 instead of drawing empty axes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from xml.etree import ElementTree

import pygal
from pygal.graph.graph import Graph
from pygal.style import DefaultStyle, Style

from bot.cases.stats import TOP_EMPLOYERS, Dashboard, Durations
from bot.console.words import CATEGORY_WORDS

FONT_FAMILY = '"Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif'
NO_DATA = "暂无数据"
STYLE = Style(
    font_family=FONT_FAMILY,
    background="white",
    plot_background="white",
    colors=DefaultStyle.colors,
    label_font_size=16,
    major_label_font_size=16,
    legend_font_size=16,
    title_font_size=20,
    value_font_size=16,
    no_data_font_size=28,
)
CONFIG = dict(
    style=STYLE,
    js=[],
    disable_xml_declaration=True,
    explicit_size=False,  # viewBox only: CSS width 100% scales it
    # (pygal 3 has no ``printable`` watermark left to switch off)
    no_data_text=NO_DATA,
    legend_at_bottom=True,
    truncate_legend=-1,
    truncate_label=-1,
    # Drawn small so that, scaled down to a phone's width, the labels stay readable.
    width=600,
    height=400,
)
MAX_TICKS = 8
MAX_WEEK_LABELS = 7  # more rotated date labels overlap at a phone's width
MAX_LABEL = 12  # characters of an org or employer name before it is cut with …
# pygal estimates a label's width at 0.6 em a character; a Chinese character is 1 em.
CJK_EXTRA_EM = 0.4


def weekly_by_category_svg(dashboard: Dashboard) -> str:
    """Stacked bars: cases opened each week (labelled by its Monday), one colour per category."""
    every = math.ceil(len(dashboard.weeks) / MAX_WEEK_LABELS) or 1
    chart = pygal.StackedBar(title="每周新增案件（按类别）", x_label_rotation=-45,
                             x_labels_major_every=every, show_minor_x_labels=every == 1, **CONFIG)
    chart.x_labels = [f"{w.start.month}月{w.start.day}日" for w in dashboard.weeks]
    if any(w.total for w in dashboard.weeks):
        chart.y_labels = _count_ticks(max(w.total for w in dashboard.weeks))
        categories = dict.fromkeys(k for w in dashboard.weeks for k in w.by_category)
        for key in categories:
            chart.add(CATEGORY_WORDS.get(key, key), [w.by_category.get(key, 0) for w in dashboard.weeks])
    return _render(chart)


def durations_svg(dashboard: Dashboard) -> str:
    """Grouped bars: median and P90 hours from submission to acceptance and to resolution."""
    steps: Sequence[tuple[str, Durations]] = (
        ("受理用时", dashboard.stats.hours_to_accept),
        ("办结用时", dashboard.stats.hours_to_resolve),
    )
    chart = pygal.Bar(title="受理与办结用时（小时）", print_values=True,
                      value_formatter=lambda v: f"{v:.1f}", **CONFIG)
    chart.x_labels = [label for label, _ in steps]
    if any(d.count for _, d in steps):
        chart.add("中位数", [d.median for _, d in steps])
        chart.add("P90", [d.p90 for _, d in steps])
    return _render(chart)


def rates_svg(dashboard: Dashboard) -> str:
    """Bars in percent: deadlines met on time, resolutions successful, workers satisfied."""
    stats = dashboard.stats
    rates = {
        "按时率": dashboard.on_time_rate,
        "调处成功率": stats.resolution_success_rate,
        "满意率": stats.satisfaction_rate,
    }
    chart = pygal.Bar(title="按时率、调处成功率与满意率（%）", range=(0, 100), show_legend=False,
                      print_values=True, value_formatter=lambda v: f"{v:.0f}%", **CONFIG)
    chart.x_labels = list(rates)
    if any(r is not None for r in rates.values()):
        chart.add("百分比", [None if r is None else 100 * r for r in rates.values()])
    return _render(chart)


def overdue_by_org_svg(dashboard: Dashboard) -> str:
    """Horizontal bars: open cases overdue now, per responsible union body."""
    return _ranking("当前超期案件（按负责工会）", "超期案件", list(dashboard.overdue_by_org.items()))


def top_employers_svg(dashboard: Dashboard) -> str:
    """Horizontal bars: the employers with the most cases, by their usual spelling."""
    counts = [(e.employer, e.cases) for e in dashboard.top_employers]
    return _ranking(f"案件最多的用人单位（前{len(counts) or TOP_EMPLOYERS}名）", "案件数", counts)


def _ranking(title: str, series: str, counts: list[tuple[str, int]]) -> str:
    # pygal draws a horizontal chart's first label at the bottom: reverse, so the largest
    # is on top as the list reads.
    counts = counts[::-1]
    labels = [name if len(name) <= MAX_LABEL else name[:MAX_LABEL - 1] + "…" for name, _ in counts]
    widest = max(map(len, labels), default=0)
    chart = pygal.HorizontalBar(
        title=title, show_legend=False, print_values=True, value_formatter=lambda v: f"{v:.0f}",
        margin_left=int(widest * STYLE.label_font_size * CJK_EXTRA_EM), **CONFIG,
    )
    chart.x_labels = labels
    if counts:
        chart.y_labels = _count_ticks(max(n for _, n in counts))
        chart.add(series, [n for _, n in counts])
    return _render(chart)


def _count_ticks(peak: int) -> list[int]:
    # Whole numbers only: pygal's own scale would label a count axis 0.2, 0.4 … (and its
    # no-data drawing fails when given labels, so set these only with data).
    step = max(1, math.ceil(peak / MAX_TICKS))
    return list(range(0, peak + step, step))


def _render(chart: Graph) -> str:
    if not chart.raw_series:  # 暂无数据 alone, without an empty scale around it
        chart.show_y_labels = chart.show_y_guides = False
        chart.show_x_labels = chart.show_x_guides = False
    chart.add_xml_filter(_without_scripts)
    return chart.render(is_unicode=True)


def _without_scripts(root: ElementTree.Element) -> ElementTree.Element:
    # pygal always writes its config as an inline <script>, whatever ``js`` says.
    for parent in list(root.iter()):
        for child in list(parent):
            if _local_name(child.tag) == "script":
                parent.remove(child)
    return root


def _local_name(tag: str | Callable[..., object]) -> str:
    # Comments have a function as their tag.
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
