"""The union hierarchy as data: read a YAML or CSV file, check it, write it.

`python -m bot orgs import FILE` and the demo (``hierarchy_yiwu.yml``) both come through
:func:`do_import_hierarchy`. A file describes the whole hierarchy of one city federation:
every parent it names is in the file, and it has the city federation and its intake desk.

YAML, the full format (``hierarchy_yiwu.yml`` is a complete example)::

    bodies:     # every union body; places: names of the place a street/town union serves,
                # or the places a 片区 covers (names of its street)
      - {code: city, name: 义乌市总工会, kind: city_federation, region: 义乌市, hotline: "12351"}
      - {code: st-fotang, name: 佛堂镇总工会, kind: street, parent: dist-nanbu, places: [佛堂]}
    liaisons:   # 老乡服务办公室 (kind liaison_office), under the city federation by default
      - {code: liaison-jx, name: 江西省驻义乌老乡服务办公室, province: 江西}
    employers:  # full name; aliases as workers write it; union: the code of its company union
      - {name: 义乌市鑫达电子有限公司, street: 稠江街道, aliases: [鑫达电子厂], union: cu-xinda}
    coverage:   # 片区 coverage by company
      - {org: pq-kaifaqu, employers: [义乌市鑫达电子有限公司]}
    experts:    # the review pool
      - {name: 陈建国, title: 退休法官}
    policies:   # working days; org and category are optional, the most specific row wins
      - {category: injury, accept_days: 1, respond_days: 2, resolve_days: 10}

CSV: one row per body, ``code,name,kind,parent,region,hotline,province,places`` (places
separated by ``|``).

Bodies are matched by code, employers and experts by name, policies by org and category. A
body's place coverage, an employer's aliases and a 片区's (or an employer's) company coverage
become what the file says; nothing the file does not name is deleted (a union body may have
cases). Every problem is reported with its line, and with any problem nothing is written.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.errors import InvalidInput
from bot.cases.models import Category, Org
from bot.cases.org_models import Coverage, DeadlinePolicy, Employer, EmployerAlias, Expert, OrgKind
from bot.cases.orgs import street_place
from bot.normalize import province_of

K = OrgKind
# The kinds a body of each kind may sit under; every parent is a level up, so no cycles.
PARENT_KINDS: dict[str, tuple[str, ...]] = {
    K.CITY.value: (),
    K.INTAKE.value: (K.CITY.value,),
    K.DISTRICT.value: (K.CITY.value,),
    K.LIAISON.value: (K.CITY.value,),
    K.STREET.value: (K.DISTRICT.value, K.CITY.value),
    K.PIANQU.value: (K.STREET.value,),
    K.COMPANY.value: (K.PIANQU.value, K.STREET.value, K.DISTRICT.value, K.CITY.value),
}
LEVEL = {K.CITY.value: 0, K.INTAKE.value: 1, K.DISTRICT.value: 1, K.LIAISON.value: 1,
         K.STREET.value: 2, K.PIANQU.value: 3, K.COMPANY.value: 4}
CSV_COLUMNS = ("code", "name", "kind", "parent", "region", "hotline", "province", "places")
FIELDS = {
    "bodies": set(CSV_COLUMNS),
    "liaisons": {"code", "name", "province", "parent"},
    "employers": {"name", "street", "aliases", "union"},
    "coverage": {"org", "employers"},
    "experts": {"name", "title"},
    "policies": {"org", "category", "accept_days", "respond_days", "resolve_days"},
}
KINDS = ("bodies", "places", "employers", "aliases", "coverage", "experts", "policies")


@dataclass(frozen=True)
class Problem:
    where: str  # "line 12, bodies[3]"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Body:
    code: str
    name: str
    kind: str
    where: str
    parent: str | None = None
    region: str | None = None
    hotline: str | None = None
    province: str | None = None
    places: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmployerEntry:
    name: str
    where: str
    street: str | None = None
    aliases: tuple[str, ...] = ()
    union: str | None = None


@dataclass(frozen=True)
class CoverageEntry:
    org: str
    employers: tuple[str, ...]
    where: str


@dataclass(frozen=True)
class ExpertEntry:
    name: str
    title: str
    where: str


@dataclass(frozen=True)
class PolicyEntry:
    org: str | None
    category: str | None
    days: tuple[int, int, int]  # accept, respond, resolve
    where: str


@dataclass(frozen=True)
class Hierarchy:
    """A file as read; ``problems`` are those found while reading it."""

    bodies: tuple[Body, ...] = ()
    employers: tuple[EmployerEntry, ...] = ()
    coverage: tuple[CoverageEntry, ...] = ()
    experts: tuple[ExpertEntry, ...] = ()
    policies: tuple[PolicyEntry, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass
class ImportReport:
    counts: dict[str, Counts] = field(default_factory=lambda: {kind: Counts() for kind in KINDS})
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        if self.problems:
            lines = [f"{len(self.problems)} problem(s), nothing written:"]
            return "\n".join(lines + [f"  {p}" for p in self.problems])
        lines = [f"{kind:<10} created {c.created:>3}  updated {c.updated:>3}  unchanged {c.unchanged:>3}"
                 + (f"  removed {c.removed:>3}" if c.removed else "") for kind, c in self.counts.items()]
        return "\n".join(lines + (["dry run: nothing written"] if self.dry_run else []))


# --- reading ----------------------------------------------------------------------------

_LINE = object()  # key under which the YAML loader keeps a mapping's line


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        mapping = super().construct_mapping(node, deep=deep)
        mapping[_LINE] = node.start_mark.line + 1
        return mapping


class _Entry:
    """One mapping of the file, read field by field; each bad field is a problem."""

    def __init__(self, values: dict[Any, Any], where: str, problems: list[Problem]) -> None:
        self.values, self.where, self.problems = values, where, problems

    def problem(self, message: str) -> None:
        self.problems.append(Problem(self.where, message))

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.values.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # hotline: 12351
        if value is not None and not isinstance(value, str):
            self.problem(f"{key} must be text")
            return None
        value = value.strip() if value else None
        if required and not value:
            self.problem(f"{key} is missing")
        return value or None

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.values.get(key)
        if isinstance(value, str):
            value = value.split("|")
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"{key} must be a list of names")
            return ()
        return tuple(v.strip() for v in value if v.strip())

    def days(self, key: str) -> int:
        value = self.values.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self.problem(f"{key} must be a whole number of working days (1 or more)")
            return 0
        return value


def _body(entry: _Entry, kind: str | None = None) -> Body | None:
    code, name = entry.text("code", required=True), entry.text("name", required=True)
    kind = kind or entry.text("kind", required=True)
    if kind and kind not in PARENT_KINDS:
        entry.problem(f"kind {kind!r} is not one of {', '.join(PARENT_KINDS)}")
        return None
    if not (code and name and kind):
        return None
    return Body(code, name, kind, entry.where, entry.text("parent"), entry.text("region"),
                entry.text("hotline"), entry.text("province"), entry.texts("places"))


def _read_entry(section: str, entry: _Entry) -> object | None:
    """The entry of ``section``; None when a required field is missing (a problem already)."""
    if section in ("bodies", "liaisons"):
        return _body(entry, K.LIAISON.value if section == "liaisons" else None)
    if section == "employers":
        name = entry.text("name", required=True)
        aliases = entry.texts("aliases")
        return EmployerEntry(name, entry.where, entry.text("street"), aliases, entry.text("union")) if name else None
    if section == "coverage":
        org = entry.text("org", required=True)
        return CoverageEntry(org, entry.texts("employers"), entry.where) if org else None
    if section == "experts":
        name, title = entry.text("name", required=True), entry.text("title", required=True)
        return ExpertEntry(name, title, entry.where) if name and title else None
    days = (entry.days("accept_days"), entry.days("respond_days"), entry.days("resolve_days"))
    return PolicyEntry(entry.text("org"), entry.text("category"), days, entry.where) if all(days) else None


def parse_yaml(text: str) -> Hierarchy:
    """Read the full format; never raises on bad content (see ``Hierarchy.problems``)."""
    try:
        document = yaml.load(text, Loader=_LineLoader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        return Hierarchy(problems=(Problem(where, f"not valid YAML: {getattr(exc, 'problem', exc)}"),))
    if not isinstance(document, dict):
        return Hierarchy(problems=(Problem("file", f"expected the sections {', '.join(FIELDS)}"),))
    problems: list[Problem] = []
    sections: dict[str, list[Any]] = {name: [] for name in FIELDS}
    for key, value in document.items():
        if key is _LINE:
            continue
        if key not in FIELDS:
            problems.append(Problem("file", f"unknown section {key!r}; sections: {', '.join(FIELDS)}"))
        elif value is not None and not isinstance(value, list):
            problems.append(Problem("file", f"{key} must be a list"))
        else:
            sections[key] = [_yaml_entry(key, i, v, problems) for i, v in enumerate(value or [])]
    bodies = [*sections["bodies"], *_under_city(sections["liaisons"], sections["bodies"])]
    return Hierarchy(*(tuple(e for e in entries if e) for entries in (
        bodies, sections["employers"], sections["coverage"], sections["experts"], sections["policies"]
    )), problems=tuple(problems))


def _yaml_entry(section: str, index: int, value: Any, problems: list[Problem]) -> object | None:
    line = value.get(_LINE) if isinstance(value, dict) else None
    where = f"line {line}, {section}[{index}]" if line else f"{section}[{index}]"
    if not isinstance(value, dict):
        problems.append(Problem(where, "expected a mapping of fields"))
        return None
    unknown = sorted(str(k) for k in value if k is not _LINE and k not in FIELDS[section])
    if unknown:
        problems.append(Problem(where, f"unknown field(s) {', '.join(unknown)}; fields: "
                                       f"{', '.join(sorted(FIELDS[section]))}"))
    return _read_entry(section, _Entry(value, where, problems))


def _under_city(liaisons: list[Any], bodies: list[Any]) -> list[Body]:
    city = next((b.code for b in bodies if b and b.kind == K.CITY.value), None)
    return [b if b.parent else dataclasses.replace(b, parent=city) for b in liaisons if b]


def parse_csv(text: str) -> Hierarchy:
    """Read the bodies-only CSV format (header row first)."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return Hierarchy(problems=(Problem("line 1", f"missing column(s) {', '.join(missing)}; "
                                                      f"columns: {','.join(CSV_COLUMNS)}"),))
    problems: list[Problem] = []
    bodies = []
    for row in reader:
        entry = _Entry({k: v for k, v in row.items() if k in CSV_COLUMNS}, f"line {reader.line_num}", problems)
        bodies.append(_body(entry))
    return Hierarchy(bodies=tuple(b for b in bodies if b), problems=tuple(problems))


def read_hierarchy(path: Path) -> Hierarchy:
    """The file at ``path`` (.yml, .yaml or .csv), as read.

    Raises:
        InvalidInput: another file type. OSError: the file cannot be read.
    """
    suffix = path.suffix.lower()
    if suffix not in (".yml", ".yaml", ".csv"):
        raise InvalidInput(f"{path.name}: expected a .yml, .yaml or .csv file")
    text = path.read_text(encoding="utf-8-sig")
    return parse_csv(text) if suffix == ".csv" else parse_yaml(text)


# --- checking ---------------------------------------------------------------------------


def check_hierarchy(data: Hierarchy) -> list[Problem]:
    """Every problem of the file itself (store checks are in :func:`do_import_hierarchy`)."""
    problems = list(data.problems)
    if problems and not data.bodies:
        return problems  # the file could not be read: what follows would only repeat it
    bodies = _check_bodies(data, problems)
    places = _check_places(bodies, problems)
    employers = _check_employers(data, bodies, places, problems)
    _check_coverage(data, bodies, employers, problems)
    _check_experts_and_policies(data, bodies, problems)
    return problems


def _check_bodies(data: Hierarchy, problems: list[Problem]) -> dict[str, Body]:
    bodies: dict[str, Body] = {}
    for body in data.bodies:
        if body.code in bodies:
            problems.append(Problem(body.where, f"duplicate code {body.code!r} (first at {bodies[body.code].where})"))
            continue
        bodies[body.code] = body
    for body in bodies.values():
        _check_parent(body, bodies, problems)
        if body.kind != K.CITY.value and (body.region or body.hotline):
            problems.append(Problem(body.where, "region and hotline belong on the city federation"))
        if body.places and body.kind not in (K.STREET.value, K.PIANQU.value):
            problems.append(Problem(body.where, "only a street/town union or a 片区 covers places"))
        if body.kind == K.LIAISON.value and not (body.province and province_of(body.province) == body.province):
            problems.append(Problem(body.where, f"a liaison office needs its home province as a short name "
                                                f"(江西, 河南, 广西), not {body.province!r}"))
    for kind, what in ((K.CITY.value, "city federation"), (K.INTAKE.value, "intake desk")):
        found = [b for b in bodies.values() if b.kind == kind]
        if not found:
            problems.append(Problem("file", f"no {what} (a body of kind {kind})"))
        elif len(found) > 1:
            problems.append(Problem(found[1].where, f"a second {what}: one hierarchy has one"))
    for city in (b for b in bodies.values() if b.kind == K.CITY.value and not b.region):
        problems.append(Problem(city.where, "the city federation needs its region (义乌市): places "
                                            "outside it are referred, not routed"))
    provinces = Counter(b.province for b in bodies.values() if b.kind == K.LIAISON.value)
    problems += [Problem("file", f"{n} liaison offices for {p}: one per home province")
                 for p, n in provinces.items() if p and n > 1]
    return bodies


def _check_parent(body: Body, bodies: dict[str, Body], problems: list[Problem]) -> None:
    allowed = PARENT_KINDS[body.kind]
    if not body.parent:
        if allowed:
            problems.append(Problem(body.where, f"a {body.kind} needs a parent ({' or '.join(allowed)})"))
        return
    parent = bodies.get(body.parent)
    if parent is None:
        problems.append(Problem(body.where, f"parent {body.parent!r} is not the code of a body in this file"))
    elif parent.kind not in allowed:
        if body.kind == K.PIANQU.value:
            message = f"a 片区 sits under a street/town union, and {parent.code!r} is a {parent.kind}"
        else:
            message = (f"a {body.kind} sits under {' or '.join(allowed) or 'nothing'}, "
                       f"and {parent.code!r} is a {parent.kind}")
        problems.append(Problem(body.where, message))


def _check_places(bodies: dict[str, Body], problems: list[Problem]) -> dict[str, Body]:
    """Place name → its street; a 片区 may cover only names of its own street."""
    streets: dict[str, Body] = {}
    for street in (b for b in bodies.values() if b.kind == K.STREET.value):
        for place in (street_place(street.name), *street.places):
            other = streets.setdefault(place, street)
            if other is not street:
                problems.append(Problem(street.where, f"place {place!r} is also {other.code!r}'s"))
    covered: dict[str, Body] = {}
    for pianqu in (b for b in bodies.values() if b.kind == K.PIANQU.value):
        if getattr(bodies.get(pianqu.parent or ""), "kind", None) != K.STREET.value:
            continue  # its parent is the problem, reported already
        for place in pianqu.places:
            if streets.get(place) is None or streets[place].code != pianqu.parent:
                problems.append(Problem(pianqu.where, f"place {place!r} is not a name of its street "
                                                      f"{pianqu.parent!r} (the street's places: its name "
                                                      "without 总工会, and its places)"))
            elif covered.setdefault(place, pianqu) is not pianqu:
                problems.append(Problem(pianqu.where, f"place {place!r} is covered by {covered[place].code!r} too"))
    return streets


def _check_employers(
    data: Hierarchy, bodies: dict[str, Body], places: dict[str, Body], problems: list[Problem]
) -> dict[str, EmployerEntry]:
    employers: dict[str, EmployerEntry] = {}
    aliases: dict[str, EmployerEntry] = {}
    for employer in data.employers:
        if employers.setdefault(employer.name, employer) is not employer:
            problems.append(Problem(employer.where, f"duplicate employer {employer.name!r}"))
            continue
        for alias in employer.aliases:
            if aliases.setdefault(alias, employer) is not employer:
                problems.append(Problem(employer.where, f"alias {alias!r} is {aliases[alias].name!r}'s too"))
        union = bodies.get(employer.union or "")
        if employer.union and (union is None or union.kind != K.COMPANY.value):
            problems.append(Problem(employer.where, f"union {employer.union!r} is not a company union in this file"))
        if employer.street and employer.street not in places:
            problems.append(Problem(employer.where, f"street {employer.street!r} is not a place of a street/town union"))
    return employers


def _check_coverage(
    data: Hierarchy, bodies: dict[str, Body], employers: dict[str, EmployerEntry], problems: list[Problem]
) -> None:
    covered: dict[str, CoverageEntry] = {}
    for entry in data.coverage:
        org = bodies.get(entry.org)
        if org is None or org.kind != K.PIANQU.value:
            problems.append(Problem(entry.where, f"org {entry.org!r} is not a 片区 in this file"))
        for name in entry.employers:
            if name not in employers:
                problems.append(Problem(entry.where, f"employer {name!r} is not in employers (by full name)"))
            elif covered.setdefault(name, entry) is not entry:
                problems.append(Problem(entry.where, f"employer {name!r} is covered by {covered[name].org!r} too"))


def _check_experts_and_policies(data: Hierarchy, bodies: dict[str, Body], problems: list[Problem]) -> None:
    experts = Counter(e.name for e in data.experts)
    problems += [Problem("file", f"expert {name!r} is listed {n} times") for name, n in experts.items() if n > 1]
    categories = {c.value for c in Category}
    seen: set[tuple[str | None, str | None]] = set()
    for policy in data.policies:
        if policy.org and policy.org not in bodies:
            problems.append(Problem(policy.where, f"policy for {policy.org!r}, which is not a body in this file"))
        if policy.category and policy.category not in categories:
            problems.append(Problem(policy.where, f"category {policy.category!r} is not one of {', '.join(sorted(categories))}"))
        if (policy.org, policy.category) in seen:
            problems.append(Problem(policy.where, "a second policy for the same org and category"))
        seen.add((policy.org, policy.category))


async def _check_store(session: AsyncSession, data: Hierarchy) -> list[Problem]:
    """One store holds one hierarchy: its city federation and intake desk keep their codes."""
    problems = []
    for kind, what in ((K.CITY.value, "city federation"), (K.INTAKE.value, "intake desk")):
        mine = {b.code for b in data.bodies if b.kind == kind}
        rows = (await session.execute(select(Org.code, Org.name).where(Org.kind == kind))).all()
        problems += [Problem("store", f"the store has the {what} {name} ({code!r}); this file's is "
                                      f"{', '.join(sorted(mine))}: one store holds one hierarchy")
                     for code, name in rows if mine and code not in mine]
    return problems


# --- writing ----------------------------------------------------------------------------


async def do_import_hierarchy(
    session: AsyncSession, *, data: Hierarchy, dry_run: bool = False
) -> ImportReport:
    """Check ``data`` and, when there is no problem, write it: create what is missing and
    update what differs. Importing the same file again changes nothing.

    ``dry_run`` reports the same counts and keeps nothing (the writes happen in a
    savepoint that is rolled back). The caller owns the transaction.
    """
    report = ImportReport(dry_run=dry_run)
    report.problems = check_hierarchy(data) + await _check_store(session, data)
    if report.problems:
        return report
    savepoint = await session.begin_nested()
    try:
        await _write(session, data, report.counts)
    except BaseException:
        await savepoint.rollback()
        raise
    await (savepoint.rollback() if dry_run else savepoint.commit())
    return report


async def _write(session: AsyncSession, data: Hierarchy, counts: dict[str, Counts]) -> None:
    orgs = await _write_bodies(session, data.bodies, counts["bodies"])
    await _write_places(session, data.bodies, orgs, counts["places"])
    employers = await _write_employers(session, data.employers, orgs, counts["employers"])
    await _write_aliases(session, data.employers, employers, counts["aliases"])
    await _write_coverage(session, data.coverage, orgs, employers, counts["coverage"])
    await _write_experts(session, data.experts, counts["experts"])
    await _write_policies(session, data.policies, orgs, counts["policies"])
    await session.flush()


def _apply(row: Any, values: dict[str, Any], counts: Counts) -> None:
    changed = {key: value for key, value in values.items() if getattr(row, key) != value}
    for key, value in changed.items():
        setattr(row, key, value)
    if changed:
        counts.updated += 1
    else:
        counts.unchanged += 1


async def _sync(
    session: AsyncSession, rows: Any, *, key: Any, wanted: set[Any], make: Any, counts: Counts
) -> None:
    """Make a relation (coverage rows) exactly ``wanted``, among the ``rows`` in question."""
    have = {key(row): row for row in rows}
    for k, row in have.items():
        if k not in wanted:
            await session.delete(row)
            counts.removed += 1
    counts.unchanged += len(wanted & have.keys())
    counts.created += len(wanted - have.keys())
    session.add_all(make(k) for k in wanted - have.keys())


async def _write_bodies(session: AsyncSession, bodies: tuple[Body, ...], counts: Counts) -> dict[str, Org]:
    orgs = {org.code: org for org in (await session.execute(select(Org))).scalars()}
    for body in sorted(bodies, key=lambda b: LEVEL[b.kind]):  # parents first
        parent = orgs[body.parent] if body.parent else None
        if parent is not None and parent.id is None:
            await session.flush()
        values = {"name": body.name, "kind": body.kind, "parent_id": parent.id if parent else None,
                  "region": body.region, "hotline": body.hotline, "province": body.province}
        if body.code in orgs:
            _apply(orgs[body.code], values, counts)
        else:
            orgs[body.code] = Org(code=body.code, **values)
            session.add(orgs[body.code])
            counts.created += 1
    await session.flush()
    return orgs


async def _write_places(
    session: AsyncSession, bodies: tuple[Body, ...], orgs: dict[str, Org], counts: Counts
) -> None:
    ids = [orgs[b.code].id for b in bodies]
    rows = await session.execute(
        select(Coverage).where(Coverage.org_id.in_(ids), Coverage.employer_id.is_(None))
    )
    await _sync(session, rows.scalars(), key=lambda c: (c.org_id, c.place), counts=counts,
                wanted={(orgs[b.code].id, place) for b in bodies for place in b.places},
                make=lambda k: Coverage(org_id=k[0], place=k[1]))


async def _write_employers(
    session: AsyncSession, entries: tuple[EmployerEntry, ...], orgs: dict[str, Org], counts: Counts
) -> dict[str, Employer]:
    employers = {e.name: e for e in (await session.execute(select(Employer))).scalars()}
    for entry in entries:
        values = {"street": entry.street, "union_org_id": orgs[entry.union].id if entry.union else None}
        if entry.name in employers:
            _apply(employers[entry.name], values, counts)
        else:
            employers[entry.name] = Employer(name=entry.name, **values)
            session.add(employers[entry.name])
            counts.created += 1
    await session.flush()
    return employers


async def _write_aliases(
    session: AsyncSession, entries: tuple[EmployerEntry, ...], employers: dict[str, Employer],
    counts: Counts,
) -> None:
    wanted = {alias: employers[e.name].id for e in entries for alias in e.aliases}
    ids = [employers[e.name].id for e in entries]
    rows = await session.execute(select(EmployerAlias).where(
        or_(EmployerAlias.alias.in_(list(wanted)), EmployerAlias.employer_id.in_(ids))
    ))
    have = set()
    for row in rows.scalars():
        if row.alias in wanted:
            _apply(row, {"employer_id": wanted[row.alias]}, counts)
            have.add(row.alias)
        else:  # one of these employers, no longer written this way
            await session.delete(row)
            counts.removed += 1
    session.add_all(EmployerAlias(alias=a, employer_id=e) for a, e in wanted.items() if a not in have)
    counts.created += len(wanted.keys() - have)


async def _write_coverage(
    session: AsyncSession, entries: tuple[CoverageEntry, ...], orgs: dict[str, Org],
    employers: dict[str, Employer], counts: Counts,
) -> None:
    """Company coverage of the 片区 listed, and of the employers listed, becomes the file's."""
    wanted = {(orgs[c.org].id, employers[n].id) for c in entries for n in c.employers}
    rows = await session.execute(select(Coverage).where(
        Coverage.employer_id.is_not(None),
        or_(Coverage.org_id.in_([orgs[c.org].id for c in entries]),
            Coverage.employer_id.in_([e for _, e in wanted])),
    ))
    await _sync(session, rows.scalars(), key=lambda c: (c.org_id, c.employer_id), wanted=wanted,
                make=lambda k: Coverage(org_id=k[0], employer_id=k[1]), counts=counts)


async def _write_experts(session: AsyncSession, entries: tuple[ExpertEntry, ...], counts: Counts) -> None:
    experts = {e.name: e for e in (await session.execute(select(Expert))).scalars()}
    for entry in entries:
        if entry.name in experts:
            _apply(experts[entry.name], {"title": entry.title}, counts)
        else:
            session.add(Expert(name=entry.name, title=entry.title))
            counts.created += 1


async def _write_policies(
    session: AsyncSession, entries: tuple[PolicyEntry, ...], orgs: dict[str, Org], counts: Counts
) -> None:
    policies = {(p.org_id, p.category): p for p in (await session.execute(select(DeadlinePolicy))).scalars()}
    for entry in entries:
        org_id = orgs[entry.org].id if entry.org else None
        accept, respond, resolve = entry.days
        values = {"accept_days": accept, "respond_days": respond, "resolve_days": resolve}
        if (org_id, entry.category) in policies:
            _apply(policies[(org_id, entry.category)], values, counts)
        else:
            session.add(DeadlinePolicy(org_id=org_id, category=entry.category, **values))
            counts.created += 1
