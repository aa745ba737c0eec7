"""Script and markup payloads in the chat page's other tabs, in headless Chromium (issue 10,
part 2): one sandbox where payloads went in through every door a user's code or an admin
has (org changes, approval templates and instances, work notifications, callback
subscriptions and a receiver's replies). Where the sandbox refuses a payload (validation) it
is counted as refused; each tab must still show a good number of payload-bearing items
(browser/xss.py has the payloads and the checks)."""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Route, expect
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from browser.xss import PAYLOADS, WAIT_MS, Watched, judged, shows_every_payload
from callback.conftest import Served
from dingkit.callback.crypto import CallbackCrypto, new_aes_key
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import (
    DEFAULT_CORP_ID,
    AppConfig,
    CallbackConfig,
    FormComponentConfig,
    ProcessConfig,
    SandboxConfig,
)

pytestmark = pytest.mark.browser


APP = AppConfig(name="xss-app", app_key="dingxssapp0001", app_secret="xss-app-secret-0001")
TOKEN = "xsstoken0001"
AES_KEY = new_aes_key()
#: The receiver's org-level subscription: every event.
RECEIVER_PATH = "/callback"


def userid(index: int) -> str:
    return f"xss{index:02d}"


def process(index: int, payload: str) -> ProcessConfig:
    """An approval template named by ``payload``, with it in every label and option."""
    return ProcessConfig(
        code=f"PROC-XSS-{index:02d}",
        name=payload,
        form=(
            FormComponentConfig(label=payload, type="TextField"),
            FormComponentConfig(label=f"{payload} (why)", type="TextareaField"),
            FormComponentConfig(label=f"{payload} (one)", type="DDSelectField", options=(payload,)),
            FormComponentConfig(
                label=f"{payload} (some)",
                type="DDMultiSelectField",
                options=(payload, f"{payload}!"),
            ),
            FormComponentConfig(
                label=(f"{payload} (from)", f"{payload} (to)"), type="DDDateRangeField"
            ),
        ),
    )


def form_values(payload: str) -> list[dict[str, str]]:
    """``formComponentValues`` for :func:`process`'s form: the payload as every value."""
    dates = json.dumps([f"{payload} (from)", f"{payload} (to)"], ensure_ascii=False)
    return [
        {"name": payload, "value": payload},
        {"name": f"{payload} (why)", "value": payload},
        {"name": f"{payload} (one)", "value": payload},
        {"name": f"{payload} (some)", "value": json.dumps([payload, f"{payload}!"])},
        {"name": dates, "value": '["2024-05-01","2024-05-03"]'},
    ]


def notices(payload: str) -> list[dict[str, Any]]:
    """One work notification of each msgtype with ``payload`` in every field it has."""
    oa = {
        "message_url": payload,
        "pc_message_url": payload,
        "head": {"bgcolor": payload, "text": payload},  # bgcolor reaches a style attribute
        "body": {
            "title": payload,
            "form": [{"key": payload, "value": payload}],
            "rich": {"num": payload, "unit": payload},
            "content": payload,
            "author": payload,
        },
        "status_bar": {"status_value": payload, "status_bg": "0xFFF65E5E"},
    }
    card = {"title": payload, "markdown": f"# {payload}\n{payload}"}
    return [
        {"msgtype": "text", "text": {"content": payload}},
        {"msgtype": "markdown", "markdown": {"title": payload, "text": f"# {payload}\n{payload}"}},
        {
            "msgtype": "link",
            "link": {"messageUrl": payload, "picUrl": payload, "title": payload, "text": payload},
        },
        {"msgtype": "oa", "oa": oa},
        {
            "msgtype": "action_card",
            "action_card": {**card, "single_title": payload, "single_url": payload},
        },
        {
            "msgtype": "action_card",
            "action_card": {**card, "btn_json_list": [{"title": payload, "action_url": payload}]},
        },
        {"msgtype": "image", "image": {"media_id": payload}},
        {"msgtype": "file", "file": {"media_id": payload}},
        {"msgtype": "voice", "voice": {"media_id": payload, "duration": "10"}},
    ]


def url_safe(payload: str) -> str:
    """``payload`` as a callback URL's path can hold it: "/" for spaces (a subscription URL has
    none), which HTML parses as an attribute separator all the same."""
    return payload.replace(" ", "/")


def replying_receiver() -> Starlette:
    """A callback receiver that opens each push and replies with the next payload, sealed:
    the sandbox shows the opened reply in the attempt's error."""
    crypto = CallbackCrypto(TOKEN, AES_KEY, DEFAULT_CORP_ID)
    replies = itertools.cycle(PAYLOADS)

    async def callback(request: Request) -> Response:
        query, body = request.query_params, await request.json()
        crypto.open(query["signature"], query["timestamp"], query["nonce"], body["encrypt"])
        return JSONResponse(crypto.seal(next(replies)).as_reply())

    return Starlette(routes=[StarletteRoute(RECEIVER_PATH, callback, methods=["POST"])])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def world_config(receiver_url: str) -> SandboxConfig:
    dead = f"http://127.0.0.1:{_free_port()}"
    # One subscription per payload, its URL carrying it, for one event only (a person
    # leaving): the events tab lists each subscription and shows its URL on every push.
    named_urls = tuple(
        CallbackConfig(
            url=f"{dead}/{url_safe(p)}", token=TOKEN, aes_key=AES_KEY, tags=("user_leave_org",)
        )
        for p in PAYLOADS
    )
    return SandboxConfig(
        limits=False,
        org_size=30,
        apps=(APP,),
        processes=tuple(process(i, p) for i, p in enumerate(PAYLOADS)),
        # No retries: the first attempt of each push is its last, so the page settles fast.
        callback_retry_delays=(),
        callbacks=(
            CallbackConfig(url=receiver_url, token=TOKEN, aes_key=AES_KEY),
            *named_urls,
        ),
    )


class Doors:
    """The sandbox's HTTP doors the payloads go through, each answer's status checked."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        answer = http.get("/gettoken", params={"appkey": APP.app_key, "appsecret": APP.app_secret})
        self.token = answer.json()["access_token"]

    def admin(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A console change (``/_sandbox/org``); a refusal is a 4xx, never a 5xx."""
        answer = self.http.request(method, path, json=body)
        assert answer.status_code < 500, answer.text
        return answer.json() if answer.status_code < 300 else {}

    def api(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """A new-family call; the answer, or ``None`` when refused (4xx)."""
        headers = {"x-acs-dingtalk-access-token": self.token}
        answer = self.http.request(method, path, json=body, headers=headers)
        assert answer.status_code < 500, answer.text
        result: dict[str, Any] = answer.json()
        return result if answer.status_code == 200 else None

    def oapi(self, path: str, body: dict[str, Any]) -> bool:
        """An old-family call; whether it was accepted (errcode 0)."""
        answer = self.http.post(path, params={"access_token": self.token}, json=body)
        assert answer.status_code == 200, answer.text
        return bool(answer.json()["errcode"] == 0)


@dataclass
class World:
    url: str
    counts: dict[str, int] = field(default_factory=dict)  # accepted / refused, per tab


def add_people(doors: Doors) -> None:
    """Per payload: a department named by it (the company if refused), and a person in it
    named by it, whose title and work place then change to it (a ``user_modify_org`` push
    carries the diff)."""
    for index, payload in enumerate(PAYLOADS):
        dept = doors.admin("POST", "/_sandbox/org/departments", {"name": payload})
        depts = [dept["department"]["dept_id"]] if dept else [1]
        person = {"userid": userid(index), "name": payload, "dept_id_list": depts}
        assert doors.admin("POST", "/_sandbox/org/users", person), payload
        change = {"title": payload, "work_place": payload}
        doors.admin("PATCH", f"/_sandbox/org/users/{userid(index)}", change)
    # Someone leaves: the one event the payload-URL subscriptions take.
    leaver = {"userid": "xssleaver", "name": PAYLOADS[0], "dept_id_list": [1]}
    doors.admin("POST", "/_sandbox/org/users", leaver)
    doors.admin("DELETE", "/_sandbox/org/users/xssleaver", {})


def start_approvals(doors: Doors, world: World) -> None:
    """Per payload, two approvals of its template by its person, approved by the next
    payload's person: one approved with the payload as remark, one left running."""
    accepted = refused = 0
    for index, payload in enumerate(PAYLOADS):
        approver = userid((index + 1) % len(PAYLOADS))
        for approve in (True, False):
            started = doors.api(
                "POST",
                "/v1.0/workflow/processInstances",
                {
                    "processCode": f"PROC-XSS-{index:02d}",
                    "originatorUserId": userid(index),
                    "approvers": [{"actionType": "NONE", "userIds": [approver]}],
                    "formComponentValues": form_values(payload),
                },
            )
            if started is None:
                refused += 1
                continue
            accepted += 1
            if approve:
                approve_with_remark(doors, started["instanceId"], approver, payload)
    world.counts |= {"approvals": accepted, "approvals_refused": refused}


def approve_with_remark(doors: Doors, instance_id: str, approver: str, remark: str) -> None:
    answer = doors.http.get(
        "/v1.0/workflow/processInstances",
        params={"processInstanceId": instance_id},
        headers={"x-acs-dingtalk-access-token": doors.token},
    )
    task = answer.json()["result"]["tasks"][0]
    body = {
        "processInstanceId": instance_id,
        "taskId": task["taskId"],
        "actionerUserId": approver,
        "result": "agree",
        "remark": remark,
    }
    assert doors.api("POST", "/v1.0/workflow/processInstances/execute", body) is not None


def send_notices(doors: Doors, world: World) -> None:
    """Every notice of every payload, to the payload's person and to the payload itself as
    a userId (an unknown one: the tab lists it as invalid)."""
    sent = refused = 0
    for index, payload in enumerate(PAYLOADS):
        for msg in notices(payload):
            body = {
                "agent_id": APP.agent_id,
                "userid_list": f"{userid(index)},{payload}",
                "msg": msg,
            }
            if doors.oapi("/topapi/message/corpconversation/asyncsend_v2", body):
                sent += 1
            else:
                refused += 1
    world.counts |= {"notices": sent, "notices_refused": refused}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    receiver = Served(replying_receiver())
    sandbox = Sandbox.from_settings(config=world_config(receiver.url + RECEIVER_PATH))
    try:
        with SandboxServer(sandbox) as server, httpx.Client(base_url=server.url) as http:
            built = World(server.url)
            doors = Doors(http)
            add_people(doors)
            start_approvals(doors, built)
            send_notices(doors, built)
            pushes = http.get("/_sandbox/pushes", params={"limit": 1000}).json()["pushes"]
            built.counts["pushes"] = len(pushes)
            yield built
    finally:
        sandbox.close()
        receiver.stop()


def test_approvals_tab(world: World, watched: Watched) -> None:
    page = watched.page
    refused = world.counts["approvals_refused"]
    with judged(watched, "approvals", '[data-testid="approval"]', refused=refused):
        watched.open(world.url, "approvals")
        approvals = page.get_by_test_id("approval")
        expect(approvals).to_have_count(world.counts["approvals"], timeout=WAIT_MS)
        running = page.locator('[data-testid="approval"][data-status="RUNNING"]')
        expect(running).to_have_count(len(PAYLOADS))
        # Each open task's panel: the payload as remark and as the userid to redirect to; the
        # sandbox refuses the redirect and the page shows its error, which names the payload.
        for index, payload in enumerate(PAYLOADS):
            originator = page.locator(".approval-originator", has_text=f"({userid(index)})")
            item = running.filter(has=originator)
            item.locator(".approval-remark").fill(payload)
            item.get_by_test_id("redirect-to").fill(payload)
            item.get_by_test_id("redirect-button").click()
            expect(item.locator(".approval-error")).to_contain_text("no user with userid")
        text = page.locator("#approval-list").inner_text()
        assert world.counts["approvals"] == 2 * len(PAYLOADS)
        assert shows_every_payload(text) == len(PAYLOADS)


def test_notifications_tab(world: World, watched: Watched) -> None:
    page = watched.page
    refused = world.counts["notices_refused"]
    with judged(watched, "notifications", '[data-testid="notification"]', refused=refused):
        watched.open(world.url, "notifications")
        shown = page.get_by_test_id("notification")
        expect(shown).to_have_count(world.counts["notices"], timeout=WAIT_MS)
        text = page.locator("#notification-list").inner_text()
        assert world.counts["notices"] >= len(PAYLOADS) * 6
        assert shows_every_payload(text) == len(PAYLOADS)


#: What the events tab shows with payloads in it: every push, and the payload-URL subscriptions
#: (all but the receiver's).
EVENT_ITEMS = (
    f'[data-testid="push"], [data-testid="subscription"]:not(:has-text("{RECEIVER_PATH}"))'
)
#: Decrypted payloads opened in the events tab (each a <details> panel).
OPENED = 20


def test_events_tab(world: World, watched: Watched) -> None:
    page = watched.page
    with judged(watched, "events", EVENT_ITEMS):
        watched.open(world.url, "events")
        expect(page.get_by_test_id("subscription")).to_have_count(len(PAYLOADS) + 1)
        # Every push fails at its one attempt: the receiver replies a payload, not "success".
        settled = page.locator('[data-testid="push"][data-state="failed"]')
        expect(settled).to_have_count(world.counts["pushes"], timeout=WAIT_MS)
        for summary in page.locator(".push-payload > summary").all()[:OPENED]:
            summary.click()  # the decrypted payload opened
        expect(page.locator("details.push-payload[open]")).to_have_count(OPENED)
        text = page.locator("#events-panel").inner_text()
        # Per payload at least: a department, a person added and changed, two approvals
        # started and one finished (each an instance and a task push).
        assert world.counts["pushes"] >= 9 * len(PAYLOADS)
        assert shows_every_payload(text) == len(PAYLOADS)  # in the approvals' titles
        assert shows_every_payload(text, url_safe) == len(PAYLOADS)  # in subscriptions' URLs


# ---- apps: the config refuses every payload, so the page's rendering is checked on a forged
# answer of /_sandbox/apps ----------------------------------------------------------------------

#: What the apps tab shows of an app, as the config takes each field.
APP_FIELDS: dict[str, Callable[[str], dict[str, Any]]] = {
    "name": lambda p: {"name": p},
    "app_key": lambda p: {"app_key": p},
    "agent_id": lambda p: {"agent_id": p},
    "scopes": lambda p: {"scopes": [p]},
    "visible_depts": lambda p: {"visible_depts": [p]},
    "ip_allowlist": lambda p: {"ip_allowlist": [p]},
    "monthly_quota": lambda p: {"monthly_quota": p},
}


def app_config_refusals() -> int:
    """How many (payload, shown field) pairs the ``[[app]]`` config refuses."""
    refused = 0
    for payload, make in itertools.product(PAYLOADS, APP_FIELDS.values()):
        try:
            AppConfig.model_validate({**APP.model_dump(), **make(payload)})
        except ValidationError:
            refused += 1
    return refused


def forged_app(payload: str) -> dict[str, Any]:
    """``/_sandbox/apps``'s entry for an app with ``payload`` in every field the tab shows."""
    return {
        "name": payload,
        "app_key": payload,
        "app_secret": "(not shown)",
        "agent_id": payload,
        "failure_mode": payload,
        "scopes": [payload, f"{payload}!"],
        "visible_depts": [payload],
        "ip_allowlist": [payload],
        "monthly_quota": payload,
    }


def test_apps_tab(world: World, watched: Watched) -> None:
    page = watched.page
    refused = app_config_refusals()

    # The config keeps payloads out today; the page must not rely on it, so the real answer
    # (the world's app) gets a payload-laden app per payload added.
    def forge(route: Route) -> None:
        try:
            real = route.fetch().json()
            route.fulfill(json={"apps": [*real["apps"], *map(forged_app, PAYLOADS)]})
        except PlaywrightError:  # the page polls on while the test closes it: let that go
            pass

    page.route("**/_sandbox/apps", forge)
    forged = f'[data-testid="app"]:not([data-app-name="{APP.name}"])'
    with judged(watched, "apps", forged, refused=refused):
        watched.open(world.url, "apps")
        expect(page.locator(forged)).to_have_count(len(PAYLOADS), timeout=WAIT_MS)
        text = page.locator("#app-list").inner_text()
        assert refused == len(PAYLOADS) * len(APP_FIELDS)
        assert shows_every_payload(text) == len(PAYLOADS)
    page.unroute_all(behavior="ignoreErrors")
