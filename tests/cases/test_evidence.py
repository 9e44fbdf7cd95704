"""Evidence files: content-addressed, never overwritten, recorded with their facts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.errors import InvalidInput
from bot.cases.evidence import (
    do_add_evidence, do_attach_evidence, do_attach_pending_evidence, evidence_path, store_file,
)
from bot.cases.queries import get_case_detail_or_raise
from tests.cases.factories import T0, make_tree, open_case

PHOTO = b"\xff\xd8\xff\xe0 a payslip photo"


def test_the_same_content_is_stored_once_and_never_overwritten(tmp_path: Path) -> None:
    digest, path = store_file(tmp_path, PHOTO)
    assert digest == hashlib.sha256(PHOTO).hexdigest() and path == evidence_path(tmp_path, digest)
    assert path.read_bytes() == PHOTO
    again, same = store_file(tmp_path, PHOTO)
    assert (again, same) == (digest, path)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]  # no temp files left


async def test_evidence_is_recorded_and_shows_on_the_timeline(session: AsyncSession, tmp_path: Path) -> None:
    case = await open_case(session, await make_tree(session))
    item = await do_add_evidence(
        session, evidence_dir=tmp_path, contact_id=case.contact_id, data=PHOTO, kind="payslip",
        source="wechat:msg-1", original_filename="../../工资条.jpg", mime_type="image/jpeg", case=case, now=T0,
    )
    assert (item.size, item.sha256, item.original_filename, item.received_at) == (
        len(PHOTO), hashlib.sha256(PHOTO).hexdigest(), "工资条.jpg", T0)
    assert evidence_path(tmp_path, item.sha256).read_bytes() == PHOTO


async def test_evidence_sent_before_the_case_exists_is_attached_when_it_opens(session: AsyncSession, tmp_path: Path) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree)
    item = await do_add_evidence(session, evidence_dir=tmp_path, contact_id=case.contact_id, data=b"chat log",
                                 kind="chat_record", source="telegram:update-5", now=T0)
    assert item.case_id is None
    assert await do_attach_pending_evidence(session, case=case, now=T0) == 1
    assert item.case_id == case.id


async def test_files_sent_later_go_onto_the_case_timeline_and_only_the_workers_own(
    session: AsyncSession, tmp_path: Path
) -> None:
    tree = await make_tree(session)
    case, other = await open_case(session, tree), await open_case(session, tree)
    mine = [await do_add_evidence(session, evidence_dir=tmp_path, contact_id=case.contact_id, data=PHOTO + bytes([n]),
                                  kind="photo", source=f"webchat:m{n}", original_filename=f"{n}.jpg", now=T0)
            for n in range(2)]
    theirs = await do_add_evidence(session, evidence_dir=tmp_path, contact_id=other.contact_id, data=PHOTO,
                                   kind="photo", source="webchat:x", now=T0)
    attached = await do_attach_evidence(session, case=case, evidence_ids=[mine[1].id, theirs.id], now=T0)
    assert attached == [mine[1]] and mine[0].case_id is None and theirs.case_id is None
    timeline = (await get_case_detail_or_raise(session, number=case.number))["events"]
    added = [e for e in timeline if e["kind"] == "evidence_added"]
    assert [(e["note"], e["data"]["evidence_id"]) for e in added] == [("1.jpg", mine[1].id)]


@pytest.mark.parametrize("data, kind, complaint", [(b"", "photo", "empty"), (b"x", "selfie", "unknown evidence kind")])
async def test_bad_evidence_is_refused(session: AsyncSession, tmp_path: Path, data: bytes, kind: str, complaint: str) -> None:
    case = await open_case(session, await make_tree(session))
    with pytest.raises(InvalidInput, match=complaint):
        await do_add_evidence(session, evidence_dir=tmp_path, contact_id=case.contact_id, data=data, kind=kind, source="t")
