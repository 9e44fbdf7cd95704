"""The case list as a file staff open in Excel or WPS: CSV and XLSX.

Rows are case summaries as :func:`bot.cases.queries.case_summary` returns them. Only the
columns below are written, so the worker's phone and any other contact data never leave the
console whatever the rows carry. Words are the console's (``bot.console.words``); times
are union local time.

A cell a spreadsheet would read as a formula (text starting with ``=``, ``+``, ``-``, ``@``,
or a tab or carriage return, as OWASP lists them) gets a leading apostrophe: an employer
name typed by a worker must not run in a staffer's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bot.cases.deadlines import UNION_TZ
from bot.console.words import CATEGORY_WORDS, CHANNEL_WORDS, STATUS_WORDS

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TIME_FORMAT = "%Y-%m-%d %H:%M"
XLSX_TIME_FORMAT = "yyyy-mm-dd hh:mm"

Value = str | int | datetime | None


def _text(value: Any) -> Value:
    return None if value is None else str(value)


def _number(value: Any) -> Value:
    return value if value is None or isinstance(value, int) else str(value)


def _yes_no(value: Any) -> Value:
    return "是" if value else "否"


def _local_time(value: Any) -> Value:
    """A summary's ISO time (or a datetime) as naive union local time, to the minute."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:  # the case store keeps UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(UNION_TZ).replace(tzinfo=None, second=0, microsecond=0)


def _words(table: dict[str, str]) -> Callable[[Any], Value]:
    return lambda value: None if value is None else table.get(value, value)


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    width: int  # in Excel's character widths; a Chinese character takes two
    value: Callable[[Any], Value] = _text


COLUMNS = (
    Column("案件编号", "number", 16),
    Column("类别", "category", 12, _words(CATEGORY_WORDS)),
    Column("状态", "status", 16, _words(STATUS_WORDS)),
    Column("用人单位", "employer", 30),
    Column("金额(元)", "amount", 12, _number),
    Column("人数", "headcount", 6, _number),
    Column("地点", "location", 24),
    Column("负责工会", "org", 24),
    Column("渠道", "channel", 10, _words(CHANNEL_WORDS)),
    Column("提交时间", "created_at", 17, _local_time),
    Column("时限", "due_at", 17, _local_time),
    Column("紧急", "urgent", 6, _yes_no),
    Column("群体性", "group_dispute", 8, _yes_no),
    Column("疑似集体", "collective", 10, _yes_no),
)


def neutralise(value: Value) -> Value:
    """``value`` with a leading apostrophe if a spreadsheet would take it for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cells(row: dict[str, Any]) -> list[Value]:
    # several grievances: the category column names each (欠薪、社保)
    row = {**row, "category": "、".join(CATEGORY_WORDS.get(c, c) for c in row["categories"])} \
        if len(row.get("categories") or []) > 1 else row
    return [neutralise(column.value(row.get(column.key))) for column in COLUMNS]


def cases_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    """The rows as CSV in UTF-8 with a byte-order mark (without it Excel reads GBK)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(column.header for column in COLUMNS)
    for row in rows:
        writer.writerow(_csv_cell(cell) for cell in _cells(row))
    return out.getvalue().encode("utf-8-sig")


def _csv_cell(cell: Value) -> str | int:
    if cell is None:
        return ""
    return cell.strftime(TIME_FORMAT) if isinstance(cell, datetime) else cell


def cases_xlsx(rows: Sequence[dict[str, Any]]) -> bytes:
    """The rows as one worksheet: bold frozen header, set widths, a filter on every column,
    times as real date cells (sortable) shown as YYYY-MM-DD HH:MM."""
    book = Workbook()
    sheet = book.active
    sheet.title = "案件列表"
    sheet.append([column.header for column in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        # openpyxl refuses control characters a worker's text might carry.
        sheet.append([
            ILLEGAL_CHARACTERS_RE.sub("", cell) if isinstance(cell, str) else cell
            for cell in _cells(row)
        ])
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        if column.value is _local_time:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = XLSX_TIME_FORMAT
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
