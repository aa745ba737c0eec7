"""Script and markup payloads in every field the chat page shows, in headless Chromium
(issue 10, part 2): no script runs, and the page holds no script, event-handler attribute or
script-capable URL that a message put there."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig

pytestmark = pytest.mark.browser

ROBOT = RobotConfig(name="plain", token="xssrobot0001", group="xss")

PAYLOADS = [
    "<script>window.__xss='script'</script>",
    "<img src=x onerror=\"window.__xss='img'\">",
    '"><svg onload="window.__xss=\'svg\'">',
    "javascript:window.__xss='url'",
    "[click](javascript:window.__xss='md-link')",
    "![pic](javascript:window.__xss='md-image')",
    "<a href=\"javascript:window.__xss='a'\">a</a>",
    "'; window.__xss='quote'; '",
    "<iframe src=\"javascript:window.__xss='iframe'\"></iframe>",
    "data:text/html,<script>window.__xss='data'</script>",
    "vbscript:msgbox(1)",
    "</textarea><style>body{display:none}</style>",
]


def messages(payload: str) -> list[dict[str, Any]]:
    """One message of each type with ``payload`` in every field the page shows."""
    return [
        {"msgtype": "text", "text": {"content": payload}},
        {"msgtype": "markdown", "markdown": {"title": payload, "text": f"# {payload}\n{payload}"}},
        {
            "msgtype": "link",
            "link": {"title": payload, "text": payload, "messageUrl": payload, "picUrl": payload},
        },
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": payload,
                "text": payload,
                "singleTitle": payload,
                "singleURL": payload,
            },
        },
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": payload,
                "text": payload,
                "btns": [{"title": payload, "actionURL": payload}],
            },
        },
        {
            "msgtype": "feedCard",
            "feedCard": {"links": [{"title": payload, "messageURL": payload, "picURL": payload}]},
        },
    ]


_AUDIT = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    if (el.tagName === 'SCRIPT' && !(el.getAttribute('src') || '').startsWith('/static/')) {
      bad.push('script: ' + el.outerHTML.slice(0, 80));
    }
    if (['IFRAME', 'OBJECT', 'EMBED'].includes(el.tagName) ||
        (el.tagName === 'STYLE' && !el.closest('head'))) {
      bad.push('tag: ' + el.tagName);
    }
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.trim().toLowerCase();
      if (name.startsWith('on')) bad.push('handler: ' + name + ' on ' + el.tagName);
      if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(name) &&
          /^(javascript|vbscript|data:text)/.test(value)) {
        bad.push('url: ' + name + '=' + value.slice(0, 40));
      }
    }
  }
  return bad;
}"""


def test_no_payload_runs_or_lands_in_the_page(browser: Browser) -> None:
    sandbox = Sandbox.from_settings(config=SandboxConfig(limits=False, robots=(ROBOT,)))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    dialogs: list[str] = []
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
            page = context.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(server.url + "/")
            page.get_by_test_id("group-item").first.click()
            expect(page.get_by_test_id("message")).to_have_count(sent, timeout=30_000)
            assert page.evaluate("() => window.__xss") is None
            assert page.evaluate(_AUDIT) == []
            page.get_by_test_id("rejections-tab").click()
            expect(page.get_by_test_id("rejection")).to_have_count(rejected, timeout=30_000)
            assert page.evaluate("() => window.__xss") is None
            assert page.evaluate(_AUDIT) == []
            # The audit itself sees what it looks for: markup a page should never build.
            page.evaluate(
                "() => document.body.insertAdjacentHTML('beforeend', "
                '\'<a href="javascript:void 0" onclick="1">x</a>\')'
            )
            assert len(page.evaluate(_AUDIT)) == 2
    finally:
        context.close()
        sandbox.close()
    assert dialogs == []
    assert sent >= len(PAYLOADS) * 2  # text and markdown at least were all shown
