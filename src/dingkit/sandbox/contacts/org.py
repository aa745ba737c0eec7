"""The sandbox's organisation: a department tree and its people, generated from a seed.

Pure and deterministic: the same ``(seed, size, depth, corp_id)`` gives the same organisation
on every start and every Python version, so it is regenerated, never stored. 10,000 people
take well under half a second.

    org = generate_org(seed=42, size=300)
    org.user("manager0001").name

Shape (§5): department ``1`` is the company. Under it, up to ``depth`` levels: divisions
(研发中心, 销售中心...), their departments (平台研发部...), and numbered teams (平台研发一组...),
about one department per 12 people. Every department has a leader among its direct members
(the first in custom order), except the level-1 department 新业务筹备组, which exists whenever
there are at least two departments and is always empty. ``depth=0`` puts everyone directly
in department 1 (one long list to page through).

Fixed for tests, whatever the seed: the first user is ``manager0001``, mobile ``13800000000``,
the boss (``boss``, ``admin``, leader of department 1).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ...resources import contacts as contacts_api
from ..config import DEFAULT_CORP_ID
from .names import (
    COMPANY,
    DIVISIONS,
    EMPTY_DEPARTMENT,
    GIVEN,
    NUMERALS,
    ROOT_TITLES,
    SURNAMES,
    TITLES,
)

__all__ = [
    "BOSS_MOBILE",
    "BOSS_USERID",
    "ORDER_FIELDS",
    "ROOT_DEPT_ID",
    "Department",
    "Organization",
    "User",
    "generate_org",
    "join",
    "settle",
]

ROOT_DEPT_ID = contacts_api.ROOT_DEPT_ID
BOSS_USERID = "manager0001"
BOSS_MOBILE = "13800000000"
#: ``order_field`` values of ``/topapi/v2/user/list`` (§5.4); ``custom`` is the default.
ORDER_FIELDS = ("custom", "entry_asc", "entry_desc", "modify_asc", "modify_desc")

_PEOPLE_PER_DEPARTMENT = 12
_LEADER_TITLES = {1: "总监", 2: "经理", 3: "组长"}
_DAY_MS = 86_400_000
_CST_OFFSET_MS = 8 * 3_600_000  # China Standard Time, UTC+8, no daylight saving
_HIRED_FROM = int(datetime(2012, 1, 1, tzinfo=UTC).timestamp() * 1000) - _CST_OFFSET_MS
_HIRED_DAYS = 4_565  # up to mid-2024
_MODIFIED_FROM = int(datetime(2024, 7, 1, tzinfo=UTC).timestamp() * 1000)
_MODIFIED_SPAN_MS = 365 * _DAY_MS


@dataclass(slots=True, eq=False)
class User:
    """One person; ``dept_ids[0]`` is the main department."""

    index: int
    userid: str
    unionid: str
    name: str
    mobile: str
    telephone: str
    title: str
    job_number: str
    email: str
    work_place: str
    extension: str  # a JSON string, as DingTalk sends it
    hired_date: int  # ms, midnight China time
    modified: int  # ms
    active: bool
    admin: bool
    boss: bool
    senior: bool
    dept_ids: list[int] = field(default_factory=list)
    dept_order: dict[int, int] = field(default_factory=dict)  # dept id -> custom order
    manager_userid: str | None = None


@dataclass(slots=True, eq=False)
class Department:
    dept_id: int
    name: str
    parent_id: int | None  # None for the company department
    level: int  # 0 for the company department
    order: int  # position among its siblings, from 1
    kind: str  # picks job titles (org_data.TITLES)
    city: str
    children: list[int] = field(default_factory=list)
    members: list[User] = field(default_factory=list)  # direct members, custom order
    leader: User | None = None
    member_count: int = 0  # distinct people here and in all sub-departments


class Organization:
    """A generated organisation with the look-ups the contacts API needs."""

    def __init__(
        self,
        *,
        corp_id: str,
        seed: int,
        departments: dict[int, Department],
        users: list[User],
    ) -> None:
        self.corp_id = corp_id
        self.seed = seed
        self.departments = departments
        self.users = users
        self._by_userid = {user.userid: user for user in users}
        self._by_mobile = {user.mobile: user for user in users}
        self._sorted: dict[tuple[int, str], list[User]] = {}
        self._within: dict[tuple[int, ...], frozenset[int]] = {}

    @property
    def root(self) -> Department:
        return self.departments[ROOT_DEPT_ID]

    def reindex(self) -> None:
        """Rebuild the look-ups after people or departments changed (:mod:`.org_changes`)."""
        self._by_userid = {user.userid: user for user in self.users}
        self._by_mobile = {user.mobile: user for user in self.users}
        self._sorted.clear()
        self._within.clear()

    def within(self, roots: Iterable[int]) -> frozenset[int]:
        """The departments ``roots`` and every department below them (cached)."""
        key = tuple(sorted(set(roots)))
        found = self._within.get(key)
        if found is None:
            seen: set[int] = set()
            stack = [dept_id for dept_id in key if dept_id in self.departments]
            while stack:
                dept_id = stack.pop()
                if dept_id not in seen:
                    seen.add(dept_id)
                    stack.extend(self.departments[dept_id].children)
            found = self._within[key] = frozenset(seen)
        return found

    def department(self, dept_id: int) -> Department | None:
        return self.departments.get(dept_id)

    def user(self, userid: str) -> User | None:
        return self._by_userid.get(userid)

    def user_by_mobile(self, mobile: str) -> User | None:
        return self._by_mobile.get(mobile)

    def children(self, dept: Department) -> list[Department]:
        return [self.departments[child] for child in dept.children]

    def members(self, dept: Department, order_field: str = "custom") -> Sequence[User]:
        """Direct members in the order ``order_field`` asks for (cached; pages slice it)."""
        if order_field == "custom":
            return dept.members
        key = (dept.dept_id, order_field)
        found = self._sorted.get(key)
        if found is None:
            by = "hired_date" if order_field.startswith("entry") else "modified"
            found = sorted(dept.members, key=lambda user: (getattr(user, by), user.index))
            if order_field.endswith("_desc"):
                found.sort(key=lambda user: getattr(user, by), reverse=True)  # stable
            self._sorted[key] = found
        return found


def generate_org(
    *, seed: int, size: int, depth: int = 3, corp_id: str = DEFAULT_CORP_ID
) -> Organization:
    """The organisation for ``seed`` with ``size`` people and ``depth`` department levels."""
    if size < 1 or not 0 <= depth <= 3:
        raise ValueError("size must be >= 1 and depth between 0 and 3")
    rng = random.Random(seed)
    departments = _departments(rng, size, depth)
    users = _people(rng, size, departments)
    return Organization(corp_id=corp_id, seed=seed, departments=departments, users=users)


def _departments(rng: random.Random, size: int, depth: int) -> dict[int, Department]:
    root = Department(ROOT_DEPT_ID, COMPANY, None, 0, 1, "root", "杭州")
    departments = {ROOT_DEPT_ID: root}
    taken_ids = {ROOT_DEPT_ID}

    def add(name: str, parent: Department, kind: str, city: str) -> Department:
        dept_id = rng.randrange(100_000_000, 1_000_000_000)  # real ids are 9-digit numbers
        while dept_id in taken_ids:
            dept_id = rng.randrange(100_000_000, 1_000_000_000)
        taken_ids.add(dept_id)
        dept = Department(
            dept_id, name, parent.dept_id, parent.level + 1, len(parent.children) + 1, kind, city
        )
        parent.children.append(dept_id)
        departments[dept_id] = dept
        return dept

    budget = size // _PEOPLE_PER_DEPARTMENT if depth > 0 else 0
    with_empty = budget >= 2
    budget -= with_empty
    # About a sixth of the departments are divisions and, when teams follow, two fifths of
    # the rest are their departments; the teams take what is left.
    wanted = budget if depth == 1 else max(1, round(budget / 6)) if budget else 0
    divisions = []
    for name, kind, city, subs in rng.sample(DIVISIONS, min(wanted, len(DIVISIONS))):
        divisions.append((add(name, root, kind, city), subs))
    budget -= len(divisions)
    level2: list[Department] = []
    if depth >= 2:
        wanted = budget if depth == 2 else max(1, round(budget * 0.4))
        widest = max((len(subs) for _, subs in divisions), default=0)
        for position in range(widest):
            for division, subs in divisions:
                if position < len(subs) and len(level2) < wanted:
                    level2.append(add(subs[position], division, division.kind, division.city))
        budget -= len(level2)
    if depth >= 3 and level2:
        team = 0
        while budget > 0:
            for parent in level2[:budget]:
                stem = parent.name.removesuffix("部")
                label = NUMERALS[team] if team < len(NUMERALS) else str(team + 1)
                add(f"{stem}{label}组", parent, parent.kind, parent.city)
            budget -= min(budget, len(level2))
            team += 1
    if with_empty:
        add(EMPTY_DEPARTMENT, root, "root", root.city)
    return departments


def _people(rng: random.Random, size: int, departments: dict[int, Department]) -> list[User]:
    root = departments[ROOT_DEPT_ID]
    staffed = [d for d in departments.values() if d.level > 0 and d.name != EMPTY_DEPARTMENT]
    # Who goes where: the boss and a few executives in the company department, one leader per
    # department in creation order, everyone else spread with leaf departments weighted up.
    placement: list[tuple[Department, str | None]] = [(root, ROOT_TITLES[0])]
    executives = min(len(ROOT_TITLES) - 1, (size - 1) // 100)
    placement += [(root, title) for title in ROOT_TITLES[1 : 1 + executives]]
    placement += [(dept, _LEADER_TITLES[dept.level]) for dept in staffed]
    placement = placement[:size]
    rest = size - len(placement)
    if rest > 0:
        pool = staffed or [root]
        weights = [3.0 if not dept.children else 1.0 for dept in pool]
        if staffed:
            pool, weights = [*pool, root], [*weights, 0.3]
        placement += [(dept, None) for dept in rng.choices(pool, weights, k=rest)]

    users: list[User] = []
    seen_userids, seen_mobiles = {BOSS_USERID}, {BOSS_MOBILE}
    # rng.random() scaled by hand: choice() and randrange() would double the generation time.
    rand = rng.random
    for index, (dept, title) in enumerate(placement):
        if index == 0:
            userid, mobile = BOSS_USERID, BOSS_MOBILE
        else:
            userid = f"0{int(rand() * 1e15):015d}"
            while userid in seen_userids:
                userid = f"0{int(rand() * 1e15):015d}"
            seen_userids.add(userid)
            mobile = f"1{'35789'[int(rand() * 5)]}{int(rand() * 1e9):09d}"
            while mobile in seen_mobiles:
                mobile = f"1{'35789'[int(rand() * 5)]}{int(rand() * 1e9):09d}"
            seen_mobiles.add(mobile)
        name = SURNAMES[int(rand() * len(SURNAMES))] + GIVEN[int(rand() * len(GIVEN))]
        if rand() < 0.7:
            name += GIVEN[int(rand() * len(GIVEN))]
        if title is None:
            titles = TITLES[dept.kind]
            title = titles[int(rand() * len(titles))]
            leads = False
        else:
            leads = index == 0 or dept.level > 0  # executives sit in dept 1 but lead nothing
        job_number = f"{index + 1:05d}"
        # Real unionIds are 28 base64-like characters, often ending in "iEiE".
        unionid = base64.b64encode(rng.randbytes(18)).decode()
        user = User(
            index=index,
            userid=userid,
            unionid=unionid.replace("+", "i").replace("/", "E") + "iEiE",
            name=name,
            mobile=mobile,
            telephone=f"0571-8{int(rand() * 1e7):07d}" if rand() < 0.15 else "",
            title=title,
            job_number=job_number,
            email=f"staff{job_number}@example.com",
            work_place=dept.city,
            extension=f'{{"工位":"{2 + int(rand() * 10)}F-{"ABCD"[int(rand() * 4)]}'
            f'{1 + int(rand() * 59):02d}"}}',
            hired_date=_HIRED_FROM + (0 if index == 0 else int(rand() * _HIRED_DAYS)) * _DAY_MS,
            modified=_MODIFIED_FROM + int(rand() * (_MODIFIED_SPAN_MS // 1000)) * 1000,
            active=index == 0 or rand() >= 0.03,
            admin=index == 0,
            boss=index == 0,
            senior=index <= executives,
        )
        join(user, dept)
        if leads:
            dept.leader = user
        users.append(user)
    # A few people also belong to a second department.
    if len(departments) > 2:
        pool = [d for d in departments.values() if d.name != EMPTY_DEPARTMENT]
        for user in users[1 + executives :]:
            if rng.random() < 0.03:
                extra = rng.choice(pool)
                if extra.dept_id not in user.dept_ids:
                    join(user, extra)
    settle(departments, users)
    return users


def join(user: User, dept: Department) -> None:
    """Add ``user`` to ``dept``, last in its custom order."""
    user.dept_ids.append(dept.dept_id)
    dept.members.append(user)
    user.dept_order[dept.dept_id] = len(dept.members) * 10


def settle(departments: dict[int, Department], users: list[User]) -> None:
    """Managers, admins and the member counts that include sub-departments; run again after
    a change to the organisation."""
    for dept in departments.values():
        dept.member_count = 0
        if dept.leader is not None and dept.kind in ("hr", "admin") and dept.level == 1:
            dept.leader.admin = True  # the HR and admin heads manage the contacts
    for user in users:
        above: Department | None = departments[user.dept_ids[0]]
        while above is not None and (above.leader is None or above.leader is user):
            above = departments.get(above.parent_id) if above.parent_id is not None else None
        user.manager_userid = above.leader.userid if above and above.leader else None
        counted: set[int] = set()
        for dept_id in user.dept_ids:
            walk: Department | None = departments[dept_id]
            while walk is not None and walk.dept_id not in counted:
                counted.add(walk.dept_id)
                walk.member_count += 1
                walk = departments.get(walk.parent_id) if walk.parent_id is not None else None
