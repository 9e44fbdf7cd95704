"""`python -m bot …` as staff and operators use it, against a fresh SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    var = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "GONGYOU_VAR_DIR": str(var), "DATABASE_URL": f"sqlite+aiosqlite:///{var}/cli.db"}

    def run(*args: str, ok: bool = True, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={**env, **(extra_env or {})},
                                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    run("seed-demo")
    run.db = var / "cli.db"  # type: ignore[attr-defined]
    return run


def test_seed_demo_is_idempotent(cli) -> None:  # type: ignore[no-untyped-def]
    before = json.loads(cli("cases", "list", "--json").stdout)
    assert "(0 union bodies created)" in cli("seed-demo").stdout
    assert json.loads(cli("cases", "list", "--json").stdout) == before


def test_list_and_show_print_what_the_architecture_promises(cli) -> None:  # type: ignore[no-untyped-def]
    cases = json.loads(cli("cases", "list", "--json").stdout)
    assert len(cases) >= 36
    keys = {"number", "category", "status", "employer", "amount", "headcount", "location", "org",
            "channel", "created_at", "due_at", "urgent"}
    assert all(keys <= set(c) for c in cases)
    detail = json.loads(cli("cases", "show", cases[0]["number"], "--json").stdout)
    assert detail["events"][0]["kind"] == "opened" and detail["routing_reason"]
    missing = cli("cases", "show", "GY-1999-000001", ok=False)
    assert missing.returncode == 1 and "no case numbered" in missing.stderr


def test_staff_update_tells_the_worker(cli) -> None:  # type: ignore[no-untyped-def]
    cases = json.loads(cli("cases", "list", "--json", "--status", "submitted").stdout)
    # a web-chat worker: with no browser polling, nothing may claim the update was delivered
    submitted = next(c["number"] for c in cases if c["channel"] == "webchat")
    out = cli("cases", "update", submitted, "--status", "accepted", "--note", "已联系雇主").stdout
    assert f"{submitted}: accepted" in out
    refused = cli("cases", "update", submitted, "--status", "accepted", ok=False)
    assert refused.returncode == 1 and "当前状态为「已受理」，不能受理" in refused.stderr
    tick = cli("tick")
    assert "notifications sent:" in tick.stdout
    detail = json.loads(cli("cases", "show", submitted, "--json").stdout)
    kinds = [(e["kind"], e["note"]) for e in detail["events"]]
    assert detail["status"] == "accepted" and ("accepted", "已联系雇主") in kinds
    # the worker's notification waits for their browser; it is on the timeline as held,
    # never as sent
    after = [k for k, _ in kinds[kinds.index(("accepted", "已联系雇主")) + 1:]]
    assert after == ["notification_held"], after


def test_resolving_needs_an_outcome(cli) -> None:  # type: ignore[no-untyped-def]
    number = json.loads(cli("cases", "list", "--json", "--status", "in_progress").stdout)[0]["number"]
    refused = cli("cases", "update", number, "--status", "resolved", ok=False)
    assert "needs --outcome" in refused.stderr
    cli("cases", "update", number, "--status", "resolved", "--outcome", "paid_in_full", "--amount-recovered", "6000")
    assert json.loads(cli("cases", "show", number, "--json").stdout)["amount_recovered"] == 6000


def test_stats_for_the_city_and_for_a_subtree(cli) -> None:  # type: ignore[no-untyped-def]
    everything = json.loads(cli("cases", "stats", "--json").stdout)
    assert everything["total"] >= 36 and everything["money_recovered"] > 0
    text = cli("cases", "stats", "--org", "city").stdout
    assert "义乌市总工会" in text
    unknown = cli("cases", "stats", "--org", "nowhere", ok=False)
    assert unknown.returncode == 1 and "nowhere" in unknown.stderr


def test_createadmin_stores_no_clear_password(cli) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    password = {"GONGYOU_ADMIN_PASSWORD": "correct horse battery"}
    out = cli("createadmin", "--username", "admin1", "--name", "管理员", extra_env=password).stdout
    again = cli("createadmin", "--username", "admin1", ok=False, extra_env=password)
    no_password = cli("createadmin", "--username", "admin2", ok=False)
    assert "admin admin1 created" in out and "is taken" in again.stderr
    assert "no password" in no_password.stderr and "Traceback" not in no_password.stderr
    stored = sqlite3.connect(cli.db).execute("SELECT password_hash FROM staff_users WHERE username='admin1'").fetchone()[0]
    from bot.cases.staff import verify_password

    assert "correct horse" not in stored and verify_password("correct horse battery", stored)
    assert not verify_password("wrong password!", stored)


def test_handback_names_an_unknown_contact(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("handback", "webchat:nobody", ok=False)
    assert result.returncode == 1 and "no contact 'webchat:nobody'" in result.stderr


def test_orgs_list_prints_every_union_body_with_its_parent(cli) -> None:  # type: ignore[no-untyped-def]
    orgs = json.loads(cli("orgs", "list", "--json").stdout)
    by_code = {o["code"]: o for o in orgs}
    assert {"code", "name", "kind", "parent"} <= set(orgs[0])
    assert by_code["city"]["parent"] is None and by_code["pq-kaifaqu"]["parent"] == "st-choujiang"
    assert by_code["st-choujiang"]["kind"] == "street" and by_code["st-choujiang"]["name"] == "稠江街道总工会"


def test_users_add_creates_an_account_that_can_log_in(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("users", "add", "--username", "zhang.min", "--org", "pq-kaifaqu", "--role", "staff",
              "--name", "张敏", extra_env={"GONGYOU_ADMIN_PASSWORD": "a long enough pass"}).stdout
    assert "staff zhang.min created for org pq-kaifaqu" in out
    again = cli("users", "add", "--username", "zhang.min", "--org", "pq-kaifaqu", "--role", "staff",
                ok=False, extra_env={"GONGYOU_ADMIN_PASSWORD": "a long enough pass"})
    assert again.returncode == 1 and "taken" in again.stderr
    unknown = cli("users", "add", "--username", "li.na", "--org", "nowhere", "--role", "staff",
                  ok=False, extra_env={"GONGYOU_ADMIN_PASSWORD": "a long enough pass"})
    assert unknown.returncode == 1 and "nowhere" in unknown.stderr
    no_password = cli("users", "add", "--username", "li.na", "--org", "pq-kaifaqu", "--role", "staff", ok=False,
                      extra_env={"GONGYOU_ADMIN_PASSWORD": ""})
    assert no_password.returncode == 1 and "no password" in no_password.stderr


HIERARCHY_YAML = """\
bodies:
  - {code: nb, name: 宁波市总工会, kind: city_federation, region: 宁波市, hotline: "12351"}
  - {code: nb-intake, name: 宁波市总工会职工服务中心, kind: intake_desk, parent: nb}
  - {code: nb-yinzhou, name: 鄞州区总工会, kind: district, parent: nb}
  - {code: nb-zhonghe, name: 中河街道总工会, kind: street, parent: nb-yinzhou, places: [中河]}
  - {code: nb-pq-zhonghe, name: 中河片区工委, kind: pianqu, parent: nb-zhonghe, places: [中河街道]}
employers:
  - {name: 宁波中河模具有限公司, street: 中河街道, aliases: [中河模具厂]}
coverage:
  - {org: nb-pq-zhonghe, employers: [宁波中河模具有限公司]}
policies:
  - {accept_days: 1, respond_days: 3, resolve_days: 15}
"""
HIERARCHY_CSV = """\
code,name,kind,parent,region,hotline,province,places
nb,宁波市总工会,city_federation,,宁波市,12351,,
nb-intake,宁波市总工会职工服务中心,intake_desk,nb,,,,
nb-yinzhou,鄞州区总工会,district,nb,,,,
nb-zhonghe,中河街道总工会,street,nb-yinzhou,,,,中河
nb-pq-zhonghe,中河片区工委,pianqu,nb-zhonghe,,,,中河街道
nb-shounan,首南街道总工会,street,nb-yinzhou,,,,首南|首南街
nb-ah,安徽省驻宁波老乡服务办公室,liaison_office,nb,,,安徽,
"""


def test_orgs_import_reports_checks_and_loads_a_hierarchy(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    own = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/own.db"}  # one store, one hierarchy
    cli("migrate", extra_env=own)

    def orgs() -> list[str]:
        return [o["code"] for o in json.loads(cli("orgs", "list", "--json", extra_env=own).stdout)]

    bad = tmp_path / "bad.yml"
    bad.write_text(HIERARCHY_YAML.replace("parent: nb-zhonghe,", "parent: nb-yinzhou,")
                   .replace("employers: [宁波中河模具有限公司]", "employers: [中河模具]"), encoding="utf-8")
    refused = cli("orgs", "import", str(bad), ok=False, extra_env=own)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.splitlines() == [
        "2 problem(s), nothing written:",
        "  line 6, bodies[4]: a 片区 sits under a street/town union, and 'nb-yinzhou' is a district",
        "  line 10, coverage[0]: employer '中河模具' is not in employers (by full name)",
    ]
    assert orgs() == []

    good = tmp_path / "nb.yml"
    good.write_text(HIERARCHY_YAML, encoding="utf-8")
    dry = cli("orgs", "import", str(good), "--dry-run", extra_env=own).stdout
    assert "bodies     created   5  updated   0  unchanged   0" in dry and "dry run: nothing written" in dry
    assert orgs() == []
    loaded = cli("orgs", "import", str(good), extra_env=own).stdout
    assert loaded.splitlines()[0] == "bodies     created   5  updated   0  unchanged   0"
    assert "coverage   created   1" in loaded and "dry run" not in loaded
    assert orgs() == ["nb", "nb-intake", "nb-yinzhou", "nb-zhonghe", "nb-pq-zhonghe"]

    table = tmp_path / "nb.csv"
    table.write_text(HIERARCHY_CSV, encoding="utf-8")
    csv_report = cli("orgs", "import", str(table), extra_env=own).stdout
    assert "bodies     created   2  updated   0  unchanged   5" in csv_report
    assert "places     created   2  updated   0  unchanged   2" in csv_report
    assert set(orgs()[-2:]) == {"nb-shounan", "nb-ah"}

    # the demo's store already has its city federation: another union's file is refused
    other = cli("orgs", "import", str(good), ok=False)
    assert other.returncode == 1 and "one store holds one hierarchy" in other.stderr
    missing = cli("orgs", "import", str(tmp_path / "nowhere.yml"), ok=False, extra_env=own)
    assert missing.returncode == 1 and missing.stderr.startswith("error:") and "nowhere.yml" in missing.stderr
    wrong = cli("orgs", "import", str(tmp_path / "nb.txt"), ok=False, extra_env=own)
    assert wrong.returncode == 1 and "expected a .yml, .yaml or .csv file" in wrong.stderr


def test_the_inbox_exports_what_annotators_labelled_in_nlu_format(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from bot.db import create_engine, create_sessionmaker, session_scope
    from bot.training.inbox import do_annotate, do_record_unsure

    async def label() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{cli.db}")
        async with session_scope(create_sessionmaker(engine)) as session:
            item = await do_record_unsure(session, text="我叫张三 工资拖了半年", sender="webchat:x",
                                          ranking=[{"name": "report_unpaid_wages", "confidence": 0.4}])
            await do_annotate(session, ids=[item.id], action="accept", actor="staff:anno",
                              now=item.created_at)
        await engine.dispose()
    asyncio.run(label())
    out = tmp_path / "inbox.yml"
    assert "wrote" in cli("nlu", "export", "--out", str(out)).stdout
    text = out.read_text(encoding="utf-8")
    assert "- intent: report_unpaid_wages" in text and "我叫某某 工资拖了半年" in text and "张三" not in text


def test_an_admin_adds_a_question_type_from_the_shell(cli) -> None:  # type: ignore[no-untyped-def]
    asks = ["高温补贴有没有", "热天干活有高温费吗", "高温津贴多少钱", "不发防暑降温费", "三伏天有补贴吗"]
    args = ["intents", "add", "--name", "ask_high_temperature_allowance", "--title", "高温补贴",
            "--answer", "35℃以上露天作业应当支付高温津贴。", "--source", "《防暑降温措施管理办法》第十七条"]
    added = cli(*args, *(a for ask in asks for a in ("--example", ask)))
    assert "5 examples" in added.stdout
    again = cli(*args, *(a for ask in asks for a in ("--example", ask)), ok=False)
    assert again.returncode == 1 and "已经有了" in again.stderr
    listed = json.loads(cli("intents", "list", "--json").stdout)
    assert [i["title"] for i in listed] == ["高温补贴"] and listed[0]["source"].startswith("《防暑降温")
