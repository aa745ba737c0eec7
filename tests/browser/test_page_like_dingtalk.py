"""The sandbox page shows what DingTalk shows (issue 11, part 4), in headless Chromium against
a sandbox served by uvicorn: an actionCard's title only in the group list, ``<font color>``
as DingTalk colours it, mentions by the organisation's names, how to post to an empty group,
a page that works 420 px wide, and approval statuses in words with the approver's remark.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    ViewportSize,
    expect,
)

from dingkit import NO_RETRY, DingTalk, Robot
from dingkit.resources.approval import ApproverStep
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.approval.templates import EXPENSE_CODE
from dingkit.sandbox.config import AppConfig, GroupConfig, RobotConfig, SandboxConfig

pytestmark = pytest.mark.browser

BUSY = RobotConfig(name="alerts", token="alerts-token-0001", secret="SEC-busy-0001", group="ops")
#: The empty group's robots: one signs (and its secret needs shell quoting), one wants a keyword.
SIGNED = RobotConfig(
    name="signer", token="signer-token-0001", secret="SEC-it's-0001", group="quiet"
)
KEYWORD = RobotConfig(name="plain", token="plain-token-0001", keywords=("deploy",), group="quiet")
#: A group no robot posts to.
NOBODY = GroupConfig(id="nobody", name="nobody")
APP = AppConfig(name="hr-tool", app_key="dinghrtool0001", app_secret="hr-tool-secret-0001")
EXPENSE: dict[str | tuple[str, str], Any] = {
    "报销类型": "餐费",
    "报销金额（元）": "88.00",
    "费用日期": "2024-05-01",
}
NARROW: ViewportSize = {"width": 420, "height": 800}
#: Each tab and what it shows once fill_every_tab has run (the events tab: its empty state).
TABS = {
    "messages": '[data-testid="message"]',
    "rejections": '[data-testid="rejection"]',
    "approvals": '[data-testid="approval"]',
    "notifications": '[data-testid="notification"]',
    "apps": '[data-testid="app"]',
    "events": "#pushes-empty",
}


@dataclass
class Site:
    server: SandboxServer
    robot: Robot
    client: DingTalk
    browser: Browser
    errors: list[str] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox

    def webhook(self, robot: RobotConfig) -> str:
        return f"{self.server.url}/robot/send?access_token={robot.token}"

    def page(self, *, viewport: ViewportSize | None = None, clipboard: bool = True) -> Page:
        """A page in a fresh context; without ``clipboard`` it has no navigator.clipboard,
        as on a page served over plain http beyond loopback."""
        context = self.browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
        if clipboard:
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=self.server.url)
        else:
            context.add_init_script(
                "Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined })"
            )
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)
        self.contexts.append(context)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def site(browser: Browser) -> Iterator[Site]:
    config = SandboxConfig(
        limits=False,
        robots=(BUSY, SIGNED, KEYWORD),
        groups=(NOBODY,),
        apps=(APP,),
        approval_withdraw_delay=0,
    )
    sandbox = Sandbox.from_settings(config=config)
    try:
        with (
            SandboxServer(sandbox) as server,
            Robot(
                token=BUSY.token,
                secret=BUSY.secret,
                base_url=server.url,
                rate_limit=False,
                retry=NO_RETRY,
                environ={},
            ) as robot,
            DingTalk(
                APP.app_key,
                APP.app_secret,
                oapi_base=server.url,
                api_base=server.url,
                qps=None,
                environ={"DINGTALK_AGENT_ID": str(APP.agent_id)},
            ) as client,
        ):
            built = Site(server, robot, client, browser)
            try:
                yield built
            finally:
                for context in built.contexts:
                    context.close()
            assert built.errors == []
    finally:
        sandbox.close()


def open_group(page: Page, site: Site, group: str) -> None:
    page.goto(f"{site.server.url}/#group={group}")
    expect(page.locator("#conversation-name")).to_have_text(group)


# ---- what a message shows ---------------------------------------------------------------


def test_action_card_title_is_in_the_group_list_not_in_the_card(site: Site) -> None:
    site.robot.send_action_card(
        "Vote on 1.2", "## Ship it?", single_title="Go", single_url="https://x.test"
    )
    page = site.page()
    open_group(page, site, "ops")

    card = page.get_by_test_id("message")
    expect(card).to_contain_text("Ship it?")
    expect(card).not_to_contain_text("Vote on 1.2")
    preview = page.locator('[data-testid="group-item"][data-group-id="ops"] .group-preview')
    expect(preview).to_have_text(f"{BUSY.name}: Vote on 1.2")


def test_font_colour_is_drawn_and_a_hostile_value_is_not(site: Site) -> None:
    site.robot.send_markdown(
        "colours",
        "<font color=#FF0000>red</font> and [<font color=#0088FF>详情</font>](https://x.test)\n\n"
        "<font color=red>named</font> <font color=#00FF00;background:url(x)>hostile</font>\n\n"
        "<font color=#FF0000>never closed",
    )
    page = site.page()
    open_group(page, site, "ops")
    bubble = page.get_by_test_id("message")
    expect(bubble).to_contain_text("hostile")

    def colour(text: str) -> str:
        found: str = bubble.get_by_text(text, exact=True).evaluate("n => getComputedStyle(n).color")
        return found

    plain = bubble.locator("p").first.evaluate("n => getComputedStyle(n).color")
    assert colour("red") == "rgb(255, 0, 0)"
    assert colour("详情") == "rgb(0, 136, 255)"
    # A colour name shows on the desktop client only: the page promises no colour for it.
    assert colour("named") == plain
    assert colour("hostile") == plain
    assert bubble.get_by_text("hostile", exact=True).get_attribute("style") is None
    expect(bubble).to_contain_text("<font color=#FF0000>never closed")


def test_mentions_show_the_organisations_names(site: Site) -> None:
    org = site.sandbox.org
    by_mobile, by_userid = org.users[0], org.users[1]
    site.robot.send_text(
        f"@{by_mobile.mobile} @{by_userid.userid} @13999999999 @stranger 请看",
        at_mobiles=[by_mobile.mobile, "13999999999"],
        at_user_ids=[by_userid.userid, "stranger"],
    )
    page = site.page()
    open_group(page, site, "ops")

    mentions = page.get_by_test_id("message").locator(".mention")
    expect(mentions).to_have_text(
        [f"@{by_mobile.name}", f"@{by_userid.name}", "@13999999999", "@stranger"]
    )
    expect(mentions.first).to_have_attribute("title", f"@{by_mobile.mobile}")
    preview = page.locator('[data-testid="group-item"][data-group-id="ops"] .group-preview')
    expect(preview).to_contain_text(f"@{by_mobile.name} @{by_userid.name} @13999999999")


# ---- an empty group ------------------------------------------------------------------------


def test_empty_group_shows_how_to_post_and_its_one_liners_work(site: Site) -> None:
    page = site.page()
    open_group(page, site, "quiet")
    howto = page.get_by_test_id("group-howto")
    expect(howto).to_be_visible()
    signer = howto.locator('[data-testid="howto-robot"][data-robot="signer"]')
    plain = howto.locator('[data-testid="howto-robot"][data-robot="plain"]')
    expect(signer.get_by_test_id("howto-webhook")).to_have_text(site.webhook(SIGNED))
    expect(signer.get_by_test_id("howto-secret")).to_have_text(str(SIGNED.secret))
    expect(signer.get_by_test_id("howto-curl")).to_have_count(0)  # signing needs more than curl
    expect(signer).to_contain_text("timestamp")
    expect(plain.get_by_test_id("howto-secret")).to_have_count(0)
    expect(plain).to_contain_text("deploy")

    signer.get_by_test_id("copy-secret").click()
    expect(signer.get_by_test_id("copy-secret")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == SIGNED.secret
    signer.get_by_test_id("copy-dingkit").click()
    expect(signer.get_by_test_id("copy-dingkit")).to_have_text("Copied")
    command = page.evaluate("navigator.clipboard.readText()")
    assert command == signer.get_by_test_id("howto-dingkit").text_content()
    curl = plain.get_by_test_id("howto-curl").text_content()
    assert curl is not None

    # The copied dingkit line, as a shell would split it, posts through the signed robot.
    words = shlex.split(command)
    assert words[:3] == ["dingkit", "send", "text"]
    assert words[words.index("--secret") + 1] == SIGNED.secret
    ran = subprocess.run(
        [sys.executable, "-m", "dingkit", *words[1:]], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    # The curl line for the keyword robot: its body and URL, as the shell would pass them.
    args = shlex.split(curl)
    assert args[0] == "curl"
    answer = httpx.post(
        args[-1],
        content=args[args.index("-d") + 1],
        headers=dict([args[args.index("-H") + 1].split(": ", 1)]),
    )
    assert answer.json() == {"errcode": 0, "errmsg": "ok"}

    messages = page.get_by_test_id("message")
    expect(messages).to_have_count(2)
    expect(messages.locator(".dt-text")).to_have_text(["hello", "deploy hello"])
    expect(howto).to_be_hidden()


def test_copy_without_a_clipboard_selects_the_text(site: Site) -> None:
    page = site.page(clipboard=False)
    open_group(page, site, "quiet")
    signer = page.locator('[data-testid="howto-robot"][data-robot="signer"]')
    signer.get_by_test_id("copy-webhook").click()
    expect(signer.get_by_test_id("copy-webhook")).not_to_have_text("Copy")
    assert page.evaluate("window.getSelection().toString()") == site.webhook(SIGNED)


def test_a_group_without_robots_says_so_and_one_with_messages_shows_none(site: Site) -> None:
    site.robot.send_text("keeps ops busy")
    page = site.page()
    open_group(page, site, "nobody")
    howto = page.get_by_test_id("group-howto")
    expect(howto).to_contain_text("No robot posts to this group")
    expect(howto.get_by_test_id("howto-robot")).to_have_count(0)
    page.goto(f"{site.server.url}/#group=ops")
    expect(page.get_by_test_id("message")).to_have_count(1)
    expect(howto).to_be_hidden()


# ---- 420 px wide --------------------------------------------------------------------------


def fill_every_tab(site: Site) -> None:
    long_word = "x" * 300
    site.robot.send_markdown("wide", f"# {long_word}\n[{long_word}](https://x.test/{long_word})")
    buttons = [("Approve " * 6, "https://x.test/a"), ("No", "https://x.test/b")]
    site.robot.send_action_card("card", long_word, buttons=buttons, btn_orientation="1")
    site.robot.send_text(long_word)
    httpx.post(f"{site.server.url}/robot/send", params={"access_token": "nobody0001"}, json={})
    org = site.sandbox.org
    site.client.approval.create(
        EXPENSE_CODE, org.users[20].userid, EXPENSE, approvers=[org.users[6].userid]
    )
    site.client.notifications.send(f"**{long_word}**", userids=[org.users[1].userid])


def overflow(page: Page) -> int:
    width: int = page.evaluate("document.scrollingElement.scrollWidth")
    return width


def test_at_420_px_nothing_overflows_and_every_tab_and_group_is_reachable(site: Site) -> None:
    fill_every_tab(site)
    page = site.page(viewport=NARROW)
    open_group(page, site, "ops")
    expect(page.get_by_test_id("message")).to_have_count(3)
    assert overflow(page) <= NARROW["width"]

    # The tabs scroll sideways rather than wrap or push the page wider.
    tabs = page.locator("nav.tabs")
    assert tabs.evaluate("n => n.scrollWidth > n.clientWidth")
    box = tabs.bounding_box()
    assert box is not None
    assert box["height"] <= 48
    for name, shown in TABS.items():
        tab = page.get_by_test_id(f"{name}-tab")
        tab.scroll_into_view_if_needed()
        tab_box = tab.bounding_box()
        assert tab_box is not None
        assert tab_box["x"] >= 0
        assert tab_box["x"] + tab_box["width"] <= NARROW["width"] + 1
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true")
        expect(page.locator(f"#{name}-panel")).to_be_visible()
        expect(page.locator(shown).first).to_be_visible()  # filled, so its width counts
        assert overflow(page) <= NARROW["width"], name

    # The group list is a drawer: closed beside the conversation, opened from its header.
    page.get_by_test_id("messages-tab").click()
    groups = page.get_by_test_id("group-item")
    expect(groups.first).to_be_hidden()
    toggle = page.get_by_test_id("groups-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(groups).to_have_count(3)
    expect(groups.first).to_be_visible()
    page.keyboard.press("Escape")
    expect(groups.first).to_be_hidden()
    toggle.click()
    page.get_by_test_id("groups-close").click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    page.locator('[data-testid="group-item"][data-group-id="quiet"] a').click()
    expect(page.locator("#conversation-name")).to_have_text("quiet")
    expect(groups.first).to_be_hidden()
    expect(page.get_by_test_id("group-howto")).to_be_visible()
    assert overflow(page) <= NARROW["width"]


def test_wide_page_keeps_the_group_list_beside_the_conversation(site: Site) -> None:
    page = site.page()
    open_group(page, site, "quiet")
    expect(page.get_by_test_id("group-item")).to_have_count(3)
    expect(page.get_by_test_id("group-item").first).to_be_visible()
    expect(page.get_by_test_id("groups-toggle")).to_be_hidden()


# ---- approvals -------------------------------------------------------------------------------


def test_approval_statuses_read_as_words_with_the_remark(site: Site) -> None:
    org = site.sandbox.org
    originator, first, second = org.users[20], org.users[6], org.users[7]
    create = site.client.approval.create
    approved = create(EXPENSE_CODE, originator.userid, EXPENSE, approvers=[first.userid])
    refused = create(
        EXPENSE_CODE, originator.userid, EXPENSE,
        approvers=[ApproverStep([first.userid, second.userid], "OR")],
    )  # fmt: skip
    withdrawn = create(EXPENSE_CODE, originator.userid, EXPENSE, approvers=[first.userid])
    running = create(EXPENSE_CODE, originator.userid, EXPENSE, approvers=[first.userid])
    site.client.approval.withdraw(withdrawn, originator.userid, remark="bought it myself")
    page = site.page()
    page.goto(f"{site.server.url}/#approvals")

    def approval(instance_id: str) -> Locator:
        return page.locator(f'[data-testid="approval"][data-instance-id="{instance_id}"]')

    expect(approval(running).get_by_test_id("approval-status")).to_have_text("审批中 In progress")
    expect(approval(approved).get_by_test_id("approval-task")).to_contain_text("审批中 Pending")
    withdrawn_item = approval(withdrawn)
    expect(withdrawn_item.get_by_test_id("approval-status")).to_have_text("已撤销 Withdrawn")
    expect(withdrawn_item.get_by_test_id("remark")).to_have_text("意见 Remark bought it myself")

    item = approval(approved)
    item.locator(".approval-remark").fill("receipt checked")
    item.get_by_test_id("approve-button").click()
    expect(item.get_by_test_id("approval-status")).to_have_text("已同意 Approved")
    expect(item.get_by_test_id("approval-status")).to_have_attribute("title", "COMPLETED · agree")
    task = item.get_by_test_id("approval-task")
    expect(task.locator(".task-status")).to_have_text("已同意 Approved")
    expect(task.get_by_test_id("remark")).to_have_text("意见 Remark receipt checked")

    item = approval(refused)
    item.locator(".approval-remark").fill("over budget")
    item.get_by_test_id("approval-task").filter(has_text=second.name).get_by_test_id(
        "refuse-button"
    ).click()
    expect(item.get_by_test_id("approval-status")).to_have_text("已拒绝 Rejected")
    tasks = item.get_by_test_id("approval-task")
    expect(tasks.filter(has_text=second.name).locator(".task-status")).to_have_text(
        "已拒绝 Rejected"
    )
    expect(tasks.filter(has_text=second.name).get_by_test_id("remark")).to_contain_text(
        "over budget"
    )
    expect(tasks.filter(has_text=first.name).locator(".task-status")).to_have_text(
        "已取消 Canceled"
    )
    expect(tasks.filter(has_text=first.name).get_by_test_id("remark")).to_have_count(0)
    expect(page.get_by_text("COMPLETED", exact=False)).to_have_count(0)
