"""Script and markup payloads in the chat page's messages and rejections tabs, in headless
Chromium (issue 10, part 2): robot messages of every type and group names carry them; no
script runs, and the page holds no script, event-handler attribute, iframe/object/embed,
body-level style or script-capable URL that a payload put there (browser/xss.py)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from browser.xss import PAYLOADS, WAIT_MS, Watched, judged, messages, shows_every_payload
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import (
    GroupConfig,
    RobotConfig,
    SandboxConfig,
)

pytestmark = pytest.mark.browser

ROBOT = RobotConfig(name="plain", token="xssrobot0001", group="xss")


def rejected_requests(http: httpx.Client, payload: str) -> int:
    """Requests the robot refuses with ``payload`` in what the rejections tab shows (the
    errmsg names an unknown msgtype; the body is shown as sent); how many were refused."""
    send = "/robot/send"
    answers = [
        http.post(send, params={"access_token": ROBOT.token}, json={"msgtype": payload}),
        http.post(
            send,
            params={"access_token": ROBOT.token},
            content=payload.encode(),
            headers={"Content-Type": "application/json"},
        ),
        http.post(send, params={"access_token": "nobody0001"}, json=messages(payload)[0]),
    ]
    return sum(answer.json()["errcode"] != 0 for answer in answers)


#: What the messages tab shows with payloads in it: the bubbles and the payload-named groups.
MESSAGE_ITEMS = '[data-testid="message"], [data-testid="group-item"][data-group-id^="named-"]'


def test_no_payload_runs_or_lands_in_the_page(watched: Watched) -> None:
    # Groups' names are free text in the config: each payload names one (shown in the list).
    named = tuple(GroupConfig(id=f"named-{i:02d}", name=p) for i, p in enumerate(PAYLOADS))
    config = SandboxConfig(limits=False, robots=(ROBOT,), groups=named)
    sandbox = Sandbox.from_settings(config=config)
    page = watched.page
    sent = rejected = 0
    try:
        with SandboxServer(sandbox) as server:
            with httpx.Client(base_url=server.url) as http:
                for payload in PAYLOADS:
                    for message in messages(payload):
                        answer = http.post(
                            "/robot/send", params={"access_token": ROBOT.token}, json=message
                        ).json()
                        if answer["errcode"] == 0:
                            sent += 1
                        else:  # refused (e.g. a URL DingTalk would not take): the
                            rejected += 1  # rejections tab shows it instead
                    rejected += rejected_requests(http, payload)
            with judged(watched, "messages", MESSAGE_ITEMS, refused=rejected):
                page.goto(server.url + "/")
                # The first group by id opens by itself: a payload-named one, in the header.
                header = page.locator("#conversation-name")
                expect(header).to_have_text(PAYLOADS[0], timeout=WAIT_MS)
                expect(page.get_by_test_id("group-item")).to_have_count(len(named) + 1)
                page.goto(server.url + "/#group=xss")  # the robot's group, by its link
                expect(page.get_by_test_id("message")).to_have_count(sent, timeout=WAIT_MS)
                groups = page.locator("#group-list").inner_text()
                assert shows_every_payload(groups) == len(PAYLOADS)

            with judged(watched, "rejections", '[data-testid="rejection"]'):
                watched.open(server.url, "rejections")
                expect(page.get_by_test_id("rejection")).to_have_count(rejected, timeout=WAIT_MS)
                for summary in page.locator(".rejection-body > summary").all():
                    summary.click()  # each request body opened
                expect(page.locator("details.rejection-body[open]")).to_have_count(rejected)
                text = page.locator("#rejection-list").inner_text()
                assert shows_every_payload(text) == len(PAYLOADS)  # unknown msgtypes, as text

            # The checks themselves see what they look for: markup a page should never build,
            # and a script that runs.
            page.evaluate(
                "() => document.body.insertAdjacentHTML('beforeend', "
                '\'<a href="javascript:void 0" onclick="1">x</a>\')'
            )
            assert len(watched.disallowed()) == 2
            page.evaluate("() => { window.__xss = 'probe'; }")
            assert watched.scripts_run() == ["probe"]
    finally:
        sandbox.close()
    assert sent >= len(PAYLOADS) * 2  # text and markdown at least were all shown
    assert rejected >= len(PAYLOADS) * 3


# ---- the other tabs: one sandbox where payloads went in through every door --------------------
