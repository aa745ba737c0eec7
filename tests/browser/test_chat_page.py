"""The sandbox chat page in headless Chromium, against a sandbox served by uvicorn.

Messages go in through dingkit's own ``Robot`` over HTTP, as a user's code would send them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Page, expect

from dingkit import NO_RETRY, Robot, SecurityCheckError
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig

pytestmark = pytest.mark.browser

GROUP = "ops"
SIGNED = RobotConfig(
    name="alerts", token="alerts-token-0001", secret="SEC-test-secret-0001", group=GROUP
)
KEYWORD = RobotConfig(name="deploys", token="deploys-token-0001", keywords=("deploy",), group=GROUP)

MOBILE = "13800000000"
MARKDOWN = f"""# Release 1.2 shipped
The **bold text** matters.
- first item
- second item

See [the changelog](https://example.com/changelog) @{MOBILE}
"""
BUTTONS = [("Approve", "https://example.com/approve"), ("Reject", "https://example.com/reject")]
SINGLE = ("Read more", "https://example.com/more")


@dataclass
class Chat:
    """A live sandbox, robots that post to it, and a browser tab (not yet opened on it)."""

    server: SandboxServer
    alerts: Robot
    deploys: Robot
    page: Page
    requested: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.page.goto(self.server.url + "/")
        expect(self.page.get_by_test_id("group-item")).to_have_count(1)


@pytest.fixture
def chat(browser: Browser) -> Iterator[Chat]:
    config = SandboxConfig(limits=False, robots=(SIGNED, KEYWORD))
    sandbox = Sandbox.from_settings(config=config)
    context = browser.new_context(viewport={"width": 1280, "height": 800})

    def robot(spec: RobotConfig) -> Robot:
        return Robot(
            token=spec.token,
            secret=spec.secret,
            name=spec.name,
            base_url=server.url,
            rate_limit=False,
            retry=NO_RETRY,
            environ={},
        )

    try:
        with SandboxServer(sandbox) as server, robot(SIGNED) as alerts, robot(KEYWORD) as deploys:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            state = Chat(server, alerts, deploys, page)
            page.on("request", lambda request: state.requested.append(request.url))
            yield state
            assert errors == []
    finally:
        context.close()
        sandbox.store.close()


def send_showcase(robot: Robot) -> None:
    robot.send_markdown("Release 1.2", MARKDOWN, at_mobiles=[MOBILE])
    robot.send_action_card("Vote", "## Ship it?", buttons=BUTTONS, btn_orientation="1")
    robot.send_action_card("Docs", "New docs", single_title=SINGLE[0], single_url=SINGLE[1])


def test_markdown_renders_heading_bold_list_link_and_mention(chat: Chat) -> None:
    send_showcase(chat.alerts)
    chat.open()
    messages = chat.page.get_by_test_id("message")
    expect(messages).to_have_count(3)

    bubble = messages.filter(has_text="Release 1.2 shipped")
    heading = bubble.locator(":is(h1, h2, h3, h4, h5, h6)", has_text="Release 1.2 shipped")
    expect(heading).to_be_visible()
    assert heading.evaluate("node => node.tagName") == "H1"
    expect(bubble.locator(":is(strong, b)")).to_have_text("bold text")
    expect(bubble.locator("ul > li")).to_have_text(["first item", "second item"])
    link = bubble.get_by_role("link", name="the changelog", exact=True)
    expect(link).to_have_attribute("href", "https://example.com/changelog")
    # The organisation knows the mobile: DingTalk shows the person's name.
    person = chat.server.sandbox.org.user_by_mobile(MOBILE)
    assert person is not None
    expect(bubble.locator(".mention")).to_have_text(f"@{person.name}")
    expect(bubble).not_to_contain_text("**")


def test_action_card_buttons_are_links_laid_out_side_by_side(chat: Chat) -> None:
    send_showcase(chat.alerts)
    chat.open()
    messages = chat.page.get_by_test_id("message")
    expect(messages).to_have_count(3)

    row = messages.filter(has_text="Ship it?").locator(".dt-buttons")
    expect(row).to_contain_class("buttons-horizontal")
    buttons = row.locator("a.dt-button")
    expect(buttons).to_have_text([title for title, _ in BUTTONS])
    for index, (_, url) in enumerate(BUTTONS):
        expect(buttons.nth(index)).to_have_attribute("href", url)
    first, second = buttons.nth(0).bounding_box(), buttons.nth(1).bounding_box()
    assert first is not None
    assert second is not None
    assert first["x"] + first["width"] <= second["x"] + 1, (first, second)
    assert abs(first["y"] - second["y"]) < 1, (first, second)
    assert first["width"] > 0
    assert second["width"] > 0

    single = messages.filter(has_text="New docs").locator(".dt-buttons a.dt-button")
    expect(single).to_have_text([SINGLE[0]])
    expect(single).to_have_attribute("href", SINGLE[1])


def test_new_message_appears_without_reload(chat: Chat) -> None:
    send_showcase(chat.alerts)
    chat.open()
    messages = chat.page.get_by_test_id("message")
    expect(messages).to_have_count(3)
    # A reload would drop this global; its survival shows the message came by polling.
    chat.page.evaluate("window.__sameDocument = true")

    chat.alerts.send_text("arrived while the page was open")

    expect(messages).to_have_count(4)
    expect(messages.last).to_contain_text("arrived while the page was open")
    assert chat.page.evaluate("window.__sameDocument") is True


def test_rejections_tab_lists_a_message_without_the_keyword(chat: Chat) -> None:
    chat.open()
    with pytest.raises(SecurityCheckError) as caught:
        chat.deploys.send_text("no magic word here")
    assert caught.value.errcode == 310000

    chat.page.get_by_test_id("rejections-tab").click()
    rejection = chat.page.get_by_test_id("rejection")
    expect(rejection).to_have_count(1)
    expect(rejection).to_be_visible()
    expect(rejection.locator(".rejection-code")).to_have_text("errcode 310000")
    expect(rejection.locator(".rejection-robot")).to_have_text(KEYWORD.name)
    expect(chat.page.get_by_test_id("rejections-tab")).to_have_attribute("aria-selected", "true")

    chat.page.get_by_test_id("messages-tab").click()
    expect(rejection).to_be_hidden()
    expect(chat.page.get_by_test_id("empty-state")).to_be_visible()


def test_page_loads_nothing_from_outside_the_sandbox(chat: Chat) -> None:
    send_showcase(chat.alerts)
    chat.open()
    expect(chat.page.get_by_test_id("message")).to_have_count(3)
    chat.page.get_by_test_id("rejections-tab").click()
    # Wait for a second poll, so the requests it makes are recorded too.
    with chat.page.expect_request("**/_sandbox/groups"):
        pass

    origin = chat.server.url + "/"
    assert origin + "static/chat.js" in chat.requested
    assert origin + "static/chat.css" in chat.requested
    outside = [url for url in chat.requested if not url.startswith(origin)]
    assert outside == []
