"""The chat page's Bots tab in headless Chromium (issue 12, part 3): a person of the
organisation writes to an app robot, served by dingkit's own BotHTTPApp in HTTP mode, in a
group (mentioning it, with the toggle or by typing @name) and one to one, and sees its
replies; an undeliverable message shows its reason, an OpenAPI send its template drawn as
the message it stands for, a streamed card its latest text until it is finished; at 420 px
the chat list is a drawer. Script payloads in people's names, group titles, a person's
text, the bot's replies, templates and cards neither run nor land as markup
(browser/xss.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from bot.served import sandbox_with_bot
from browser.xss import PAYLOADS, WAIT_MS, Watched, judged, shows_every_payload
from dingkit.bot import Bot
from dingkit.sandbox import Sandbox
from dingkit.sandbox.bots.sending import send_to_group, send_to_users
from dingkit.sandbox.bots.talk import group_conversation_id
from dingkit.sandbox.cards.rules import create_and_deliver, stream
from dingkit.sandbox.config import AppConfig, BotConfig, GroupConfig

pytestmark = pytest.mark.browser

APP = AppConfig(name="ops-app", app_key="dingopsapp0001", app_secret="ops-app-secret-0001")
BOSS = "manager0001"
MESSAGE = '[data-testid="bots-message"]'


def _echo_bot() -> Bot:
    bot = Bot()

    @bot.command("/echo")
    def echo(args: list[str]) -> str:
        return " ".join(args)

    @bot.fallback()
    async def later(message: Any, reply: Any) -> None:
        await reply.text(message.text.strip())  # in the response
        await reply.markdown("Later", f"**{message.text.strip()}**")  # through the session

    return bot


@dataclass
class World:
    sandbox: Sandbox
    url: str
    http: httpx.Client


def _world(groups: tuple[GroupConfig, ...]) -> Iterator[World]:
    quiet = BotConfig(name="quiet", app=APP.name, robot_code="dingquiet0001", groups=("ops",))
    with (
        sandbox_with_bot(
            _echo_bot(), name="echo", app=APP, groups=groups, more_bots=(quiet,), org_size=8
        ) as (sandbox, server),
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield World(sandbox, server.url, http)


@pytest.fixture
def world() -> Iterator[World]:
    yield from _world((GroupConfig(id="ops", name="运维群"),))


def _page(browser: Browser, width: int = 1280) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(viewport={"width": width, "height": 800})
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page, errors
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    yield from _page(browser)


def _messages(page: Page, via: str) -> Any:
    return page.locator(f'{MESSAGE}[data-via="{via}"]')


def _boss(world: World) -> str:
    person = world.sandbox.org.user(BOSS)
    assert person is not None
    return person.name


def test_a_person_mentions_the_bot_in_a_group_and_sees_its_replies(
    world: World, page: tuple[Page, list[str]]
) -> None:
    tab, errors = page
    tab.goto(world.url + "/#bots")
    expect(tab.get_by_test_id("bots-tab")).to_have_attribute("aria-selected", "true")
    group = tab.locator('[data-testid="bots-chat"][data-chat-type="group"]')
    expect(group).to_have_count(1)
    expect(group).to_contain_text("运维群")
    group.locator("button").click()
    expect(tab.get_by_test_id("bots-chat-name")).to_have_text("运维群")
    expect(tab.get_by_test_id("bots-messages-empty")).to_be_visible()
    tab.get_by_test_id("bots-person").select_option(BOSS)

    # "@echo" typed in the text: a mention, taken out of what the bot gets.
    tab.get_by_test_id("bots-text").fill("@echo /echo hello there")
    tab.get_by_test_id("bots-send").click()
    mine = _messages(tab, "person")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text(_boss(world))
    expect(mine.locator(".mention")).to_have_text("@echo")
    expect(mine.locator(".dt-text")).to_have_text("/echo hello there")
    reply = _messages(tab, "response")
    expect(reply).to_have_count(1)
    expect(reply.locator(".bubble")).to_have_text("hello there")
    expect(reply.locator(".sender")).to_have_text("echo")
    expect(tab.get_by_test_id("bots-status")).to_have_text("Sent to echo.")
    expect(tab.get_by_test_id("bots-text")).to_have_value("")

    # The mention toggle; Enter sends. The late reply comes through the session webhook.
    toggle = tab.locator('[data-testid="bots-mention"][data-bot="echo"]')
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    tab.get_by_test_id("bots-text").fill("status?")
    tab.get_by_test_id("bots-text").press("Enter")
    expect(_messages(tab, "session").locator("strong")).to_have_text("status?")
    expect(_messages(tab, "response")).to_have_count(2)
    expect(toggle).to_have_attribute("aria-pressed", "false")

    # Mentioning nobody: kept in the group, given to no bot.
    tab.get_by_test_id("bots-text").fill("just chatting")
    tab.get_by_test_id("bots-send").click()
    expect(tab.get_by_test_id("bots-status")).to_contain_text("no bot got it")
    expect(mine).to_have_count(3)
    said = world.http.get(f"/_sandbox/conversations/{group_conversation_id('ops')}/messages")
    people = [m for m in said.json()["messages"] if m["via"] == "person"]
    assert [(m["text"], m["at"]) for m in people] == [
        ("/echo hello there", [APP.app_key]),
        ("status?", [APP.app_key]),
        ("just chatting", []),
    ]
    assert errors == []


def test_a_one_to_one_chat_an_undelivered_message_and_an_openapi_send(
    world: World, page: tuple[Page, list[str]]
) -> None:
    tab, errors = page
    tab.goto(world.url + "/#bots")
    tab.get_by_test_id("bots-open-bot").select_option("echo")
    tab.get_by_test_id("bots-open-person").select_option(BOSS)
    tab.get_by_test_id("bots-open-submit").click()
    expect(tab.get_by_test_id("bots-chat-name")).to_have_text(f"echo · {_boss(world)}")
    expect(tab.locator('[data-testid="bots-chat"][data-chat-type="single"]')).to_have_count(1)
    # Only the chat's person writes in it, and the bot gets everything: nothing to mention.
    expect(tab.get_by_test_id("bots-person")).to_be_disabled()
    expect(tab.get_by_test_id("bots-person")).to_have_value(BOSS)
    expect(tab.get_by_test_id("bots-mentions")).to_be_hidden()
    tab.get_by_test_id("bots-text").fill("/echo one to one")
    tab.get_by_test_id("bots-text").press("Enter")
    expect(_messages(tab, "response").locator(".bubble")).to_have_text("one to one")

    # The app sends into the chat through the OpenAPI: its template drawn as an action card.
    card = {
        "title": "Deploy",
        "text": "## Deploy *v2*?",
        "actionTitle1": "Yes",
        "actionURL1": "https://example.com/yes",
        "actionTitle2": "No",
        "actionURL2": "https://example.com/no",
    }
    body = {"robotCode": APP.app_key, "userIds": [BOSS], "msgKey": "sampleActionCard2"}
    send_to_users(world.sandbox, APP, {**body, "msgParam": json.dumps(card)})
    sent = _messages(tab, "oto")
    expect(sent.locator(".dt-button")).to_have_text(["Yes", "No"])
    expect(sent.locator("h2")).to_contain_text("Deploy")
    expect(sent).to_contain_text("OpenAPI: oToMessages/batchSend")

    # A Stream-mode bot with no connection: the message is kept with the reason.
    tab.get_by_test_id("bots-open-bot").select_option("quiet")
    tab.get_by_test_id("bots-open-submit").click()
    expect(tab.get_by_test_id("bots-chat-name")).to_have_text(f"quiet · {_boss(world)}")
    tab.get_by_test_id("bots-text").fill("anyone there?")
    tab.get_by_test_id("bots-send").click()
    undelivered = _messages(tab, "undelivered")
    expect(undelivered.get_by_test_id("bots-undelivered")).to_contain_text(
        "no Stream connection open"
    )
    expect(undelivered.locator(".sender")).to_have_text("quiet")
    expect(tab.locator('[data-testid="bots-chat"][data-chat-type="single"]')).to_have_count(2)
    assert errors == []


def test_a_card_streamed_into_the_group_is_redrawn_until_it_is_finished(
    world: World, page: tuple[Page, list[str]]
) -> None:
    tab, errors = page
    ops = group_conversation_id("ops")
    tab.goto(world.url + "/#bots")
    expect(tab.get_by_test_id("bots-chat-name")).to_have_text("运维群")
    # As the official SDK's card_replier.py creates an AI card in a group, then streams.
    create_and_deliver(
        world.sandbox,
        APP,
        {
            "cardTemplateId": "382e4302-551d-4880-bf29-a30acfab2e71.schema",
            "outTrackId": "t-1",
            "cardData": {"cardParamMap": {"content": "", "flowStatus": "1"}},
            "openSpaceId": f"dtv1.card//IM_GROUP.{ops}",
            "imGroupOpenDeliverModel": {"robotCode": APP.app_key},
        },
    )
    card = _messages(tab, "card")
    expect(card).to_have_attribute("data-card-status", "processing")

    def streamed(guid: str, content: str, **flags: bool) -> None:
        body = {"outTrackId": "t-1", "guid": guid, "key": "content", "content": content}
        stream(world.sandbox, APP, {**body, "isFull": True, "isFinalize": False, **flags})

    streamed("g1", "Thinking about **it**")
    expect(card).to_have_attribute("data-card-status", "inputing")
    expect(card.locator("strong")).to_have_text("it")
    expect(card).to_contain_text("card · streaming…")
    streamed("g2", "Done: **42**", isFinalize=True)
    expect(card).to_have_attribute("data-card-status", "finished")
    expect(card.locator(".bubble")).to_have_text("Done: 42")
    expect(card).to_have_count(1)
    assert errors == []


def test_at_420_px_the_chat_list_is_a_drawer(world: World, browser: Browser) -> None:
    for tab, errors in _page(browser, width=420):
        tab.goto(world.url + "/#bots")
        chats = tab.get_by_test_id("bots-chat-list")
        expect(tab.get_by_test_id("bots-chat-name")).to_have_text("运维群")
        expect(chats).to_be_hidden()
        tab.get_by_test_id("bots-toggle").click()
        expect(chats).to_be_visible()
        expect(tab.get_by_test_id("bots-toggle")).to_have_attribute("aria-expanded", "true")
        tab.get_by_test_id("bots-open-submit").click()  # echo and the first person
        expect(chats).to_be_hidden()
        expect(tab.get_by_test_id("bots-chat-name")).to_contain_text("echo · ")
        tab.get_by_test_id("bots-text").fill("/echo narrow")
        tab.get_by_test_id("bots-send").click()
        expect(_messages(tab, "response").locator(".bubble")).to_have_text("narrow")
        wide = tab.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= 420
        assert errors == []


# ---- script payloads ---------------------------------------------------------------------


def _userid(index: int) -> str:
    return f"xss{index:02d}"


def _templates(payload: str) -> list[tuple[str, dict[str, str]]]:
    """One OpenAPI template of each kind with ``payload`` in every field."""
    card = {"title": payload, "text": payload}
    return [
        ("sampleText", {"content": payload}),
        ("sampleMarkdown", {"title": payload, "text": f"# {payload}\n{payload}"}),
        ("sampleLink", {**card, "messageUrl": payload, "picUrl": payload}),
        ("sampleImageMsg", {"photoURL": payload}),
        ("sampleActionCard", {**card, "singleTitle": payload, "singleURL": payload}),
        ("sampleActionCard2", {**card, **_buttons("action", "actionURL", payload)}),
        ("sampleActionCard6", {**card, **_buttons("button", "buttonUrl", payload)}),
        ("sampleFile", {"mediaId": payload, "fileName": payload, "fileType": payload}),
    ]


def _buttons(kind: str, url: str, payload: str) -> dict[str, str]:
    return {field: payload for n in (1, 2) for field in (f"{kind}Title{n}", f"{url}{n}")}


def _until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def payload_world() -> Iterator[World]:
    groups = (
        GroupConfig(id="ops", name="运维群"),
        *(GroupConfig(id=f"x{index:02d}", name=p) for index, p in enumerate(PAYLOADS)),
    )
    yield from _world(groups)


def test_payloads_in_the_bots_tab_neither_run_nor_land(
    payload_world: World, watched: Watched
) -> None:
    world, page = payload_world, watched.page
    ops = group_conversation_id("ops")
    for index, payload in enumerate(PAYLOADS):
        person = {"userid": _userid(index), "name": payload, "dept_id_list": [1]}
        assert world.http.post("/_sandbox/org/users", json=person).is_success
        said = {"sender": _userid(index), "text": payload, "at": ["echo"]}
        answer = world.http.post(f"/_sandbox/conversations/{ops}/messages", json=said)
        assert answer.json()["delivered_to"] == ["echo"], answer.text
        for key, param in _templates(payload):
            body = {"robotCode": APP.app_key, "openConversationId": ops, "msgKey": key}
            send_to_group(world.sandbox, APP, {**body, "msgParam": json.dumps(param)})
        card = {
            "cardTemplateId": "382e4302-551d-4880-bf29-a30acfab2e71.schema",
            "outTrackId": f"xss-{index}",
            "cardData": {"cardParamMap": {"content": f"# {payload}\n{payload}"}},
            "openSpaceId": f"dtv1.card//IM_GROUP.{ops}",
            "imGroupOpenDeliverModel": {"robotCode": APP.app_key},
        }
        create_and_deliver(world.sandbox, APP, card)

    def sessions() -> int:
        found = world.http.get(f"/_sandbox/conversations/{ops}/messages?limit=5000").json()
        return sum(m["via"] == "session" for m in found["messages"])

    _until(lambda: sessions() == len(PAYLOADS))
    templates = len(_templates(""))
    with judged(watched, "bots", MESSAGE, templates=templates):
        watched.open(world.url, "bots")
        page.get_by_test_id("bots-chat").filter(has_text="运维群").locator("button").click()
        expect(page.get_by_test_id("bots-chat-name")).to_have_text("运维群", timeout=WAIT_MS)
        # Each payload: the person's message, the reply in the response, the late one, each
        # template and a card; then one more written in the composer as a payload-named person.
        shown = len(PAYLOADS) * (4 + templates)
        expect(page.locator(MESSAGE)).to_have_count(shown, timeout=WAIT_MS)
        page.get_by_test_id("bots-person").select_option(_userid(1))
        page.locator('[data-testid="bots-mention"][data-bot="echo"]').click()
        page.get_by_test_id("bots-text").fill(" ".join(PAYLOADS))
        page.get_by_test_id("bots-send").click()
        expect(page.locator(MESSAGE)).to_have_count(shown + 3, timeout=WAIT_MS)
        persons = page.locator(f'{MESSAGE}[data-via="person"]').all_inner_texts()
        assert shows_every_payload("\n".join(persons)) == len(PAYLOADS)
        replies = page.locator(f'{MESSAGE}[data-via="response"]').all_inner_texts()
        assert shows_every_payload("\n".join(replies)) == len(PAYLOADS)
        chats = page.get_by_test_id("bots-chat-list").inner_text()
        assert shows_every_payload(chats) == len(PAYLOADS)
        assert shows_every_payload(page.get_by_test_id("bots-person").inner_text()) == len(PAYLOADS)
