"""The case list export as a staffer opens it in Excel or WPS: Chinese headers and words,
local times, no contact data, and no formula hidden in a worker's text."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.queries import case_summary
from bot.console.export import cases_csv, cases_xlsx
from tests.cases.factories import T0, make_tree, open_case

HEADERS = ["案件编号", "类别", "状态", "用人单位", "金额(元)", "人数", "地点", "负责工会", "渠道",
           "提交时间", "时限", "紧急", "群体性", "疑似集体"]


def summary(**changes: Any) -> dict[str, Any]:
    """A row as ``case_summary`` gives it, plus contact data that must not be exported."""
    row = {
        "number": "GY-2026-000042", "category": "unpaid_wages", "status": "in_progress",
        "employer": "义乌某某鞋业有限公司", "amount": 8500, "amount_text": "八千五", "headcount": 3,
        "location": "稠城街道", "org": "稠城街道总工会", "org_code": "choucheng", "channel": "wechat",
        "created_at": "2026-03-02T01:00:00+00:00", "due_at": "2026-03-02T16:30:00+00:00",
        "urgent": True, "group_dispute": False, "collective": False,
        "phone": "13800138000", "contact": {"display_name": "张三", "phone": "13800138000"},
    }
    return {**row, **changes}


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_has_chinese_headers_words_and_union_local_times() -> None:
    header, row = read_csv(cases_csv([summary()]))
    assert header == HEADERS
    assert row == ["GY-2026-000042", "欠薪", "处理中", "义乌某某鞋业有限公司", "8500", "3", "稠城街道",
                   "稠城街道总工会", "微信", "2026-03-02 09:00", "2026-03-03 00:30", "是", "否", "否"]


def test_csv_leaves_out_the_workers_phone_and_name() -> None:
    data = cases_csv([summary()]).decode("utf-8-sig")
    assert "13800138000" not in data and "张三" not in data


def test_text_a_spreadsheet_would_run_gets_an_apostrophe() -> None:
    rows = [summary(employer='=HYPERLINK("http://evil.example","点我")', location="+86 稠城"),
            summary(employer="-1+2", location="@SUM(A1)"),
            summary(employer="义乌-金华物流", location=None, amount=None, due_at=None)]
    _, first, second, plain = read_csv(cases_csv(rows))
    assert (first[3], first[6]) == ("'=HYPERLINK(\"http://evil.example\",\"点我\")", "'+86 稠城")
    assert (second[3], second[6]) == ("'-1+2", "'@SUM(A1)")
    assert (plain[3], plain[4], plain[6], plain[10]) == ("义乌-金华物流", "", "", "")


def test_an_empty_list_is_the_header_alone() -> None:
    assert read_csv(cases_csv([])) == [HEADERS]


def test_xlsx_opens_with_a_bold_frozen_header_and_the_rows() -> None:
    rows = [summary(), summary(number="GY-2026-000043", category="injury", status="submitted",
                               employer="=1+1", urgent=False)]
    book = openpyxl.load_workbook(io.BytesIO(cases_xlsx(rows)))
    sheet = book.active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == HEADERS
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["D"].width == 30  # 用人单位: room for a long name
    assert len(values) == 3
    first, second = values[1], values[2]
    assert first[:9] == ("GY-2026-000042", "欠薪", "处理中", "义乌某某鞋业有限公司", 8500, 3, "稠城街道",
                         "稠城街道总工会", "微信")
    assert first[9:] == (datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 3, 0, 30), "是", "否", "否")
    assert sheet["J2"].number_format == "yyyy-mm-dd hh:mm"
    assert (second[1], second[2], second[3], second[11]) == ("工伤", "已提交", "'=1+1", "否")
    assert sheet["D3"].data_type == "s"  # text, not a formula
    assert not any("13800138000" in str(v) for row in values for v in row)


async def test_a_real_case_summary_exports(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree, employer="测试导出鞋厂", amount=3000, headcount=2)
    row = case_summary(case)

    _, exported = read_csv(cases_csv([row]))
    assert exported[:5] == [case.number, "欠薪", "已提交", "测试导出鞋厂", "3000"]
    assert (exported[7], exported[8], exported[9]) == (case.org.name, "网页聊天", "2026-03-02 09:00")
    sheet = openpyxl.load_workbook(io.BytesIO(cases_xlsx([row]))).active
    assert sheet["A2"].value == case.number and sheet["J2"].value == T0.replace(hour=9, tzinfo=None)


def test_a_case_with_several_grievances_names_each_in_the_category_column() -> None:
    _, row = read_csv(cases_csv([summary(category="injury", categories=["injury", "dismissal"])]))
    assert row[1] == "工伤、辞退"
