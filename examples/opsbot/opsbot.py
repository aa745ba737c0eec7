"""An on-call bot for a team's DingTalk group, built on dingkit.bot.

    /oncall            who is on call: the leaders of the on-call department (ONCALL_DEPT)
    /leave NAME        NAME's leave requests of the last 30 days, and where each stands
    /attendance me     your punches today
    /deploy SERVICE    a card asking to confirm the deploy

Run it in HTTP mode (``dingkit bot serve opsbot:bot``) or Stream mode (``dingkit bot run
opsbot:bot``) with the app's DINGTALK_APP_KEY / DINGTALK_APP_SECRET; the base-URL variables
point it at the sandbox. See README.md beside it.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from dingkit.bot import Bot

bot = Bot()

#: China time: DingTalk's days (attendance, approvals) are China days.
CHINA = dt.timezone(dt.timedelta(hours=8))
LEAVE = "PROC-LEAVE"
STATUS = {"RUNNING": "审批中", "TERMINATED": "已撤销", "agree": "已同意", "refuse": "已拒绝"}


@bot.command("/oncall")
async def oncall(client: Any) -> str:
    dept_id = int(os.environ.get("ONCALL_DEPT", "1"))
    department = await client.contacts.department(dept_id)
    people = [await client.contacts.user(u) for u in department.dept_manager_userid_list]
    if not people:
        return f"{department.name} has no leader to call: set one in the organisation"
    names = ", ".join(f"{p.name} ({p.mobile})" for p in people)
    return f"On call for {department.name}: {names}"


@bot.command("/leave")
async def leave(args: list[str], client: Any) -> str:
    if not args:
        return "usage: /leave NAME"
    name = " ".join(args)
    people = [p async for p in _everyone(client) if p.name == name]
    if not people:
        return f"nobody called {name} in the organisation"
    since = dt.datetime.now(CHINA) - dt.timedelta(days=30)
    ids = [i async for i in client.approval.instance_ids(LEAVE, since, userids=[people[0].userid])]
    if not ids:
        return f"{name}: no leave request in the last 30 days"
    lines = []
    for instance_id in ids:
        instance = await client.approval.get(instance_id)
        state = STATUS.get(instance.result or instance.status or "", instance.status)
        lines.append(f"- {instance.title}: {state}")
    return f"{name}'s leave requests:\n" + "\n".join(lines)


@bot.command("/attendance")
async def attendance(message: Any, args: list[str], client: Any) -> str:
    if args != ["me"]:
        return "usage: /attendance me"
    userid = message.sender.staff_id
    if not userid:
        return "I can only look up people of the organisation"
    today = dt.datetime.now(CHINA).date()
    rows = [r async for r in client.attendance.results([userid], today, today)]
    if not rows:
        return f"no attendance for you on {today}"
    punches = [f"{r.check_type} {r.time_result}" for r in rows]
    return f"Your attendance on {today}: " + ", ".join(punches)


@bot.command("/deploy")
async def deploy(args: list[str], reply: Any) -> None:
    if len(args) != 1:
        await reply.text("usage: /deploy SERVICE")
        return
    service = args[0]
    await reply.action_card(
        f"Deploy {service}?",
        f"### Deploy **{service}** to production?\nConfirm to start the pipeline.",
        buttons=[
            ("Confirm", f"https://ci.example.com/deploy/{service}?confirm=1"),
            ("Cancel", f"https://ci.example.com/deploy/{service}?confirm=0"),
        ],
        orientation="horizontal",
        at_sender=True,
    )


@bot.fallback()
def help_text() -> str:
    return "I answer /oncall, /leave NAME, /attendance me and /deploy SERVICE"


async def _everyone(client: Any) -> Any:
    """Everyone in the organisation, each once."""
    seen: set[str] = set()
    departments = [1, *[d.dept_id async for d in client.contacts.walk(1)]]
    for dept_id in departments:
        async for person in client.contacts.users(dept_id):
            if person.userid not in seen:
                seen.add(person.userid)
                yield person
