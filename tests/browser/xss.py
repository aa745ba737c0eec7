"""What the chat page's script-payload tests share (issue 10, part 2): the payloads, one
robot message of each type carrying one, the audit of the page's markup, and the ``Watched``
page that records every payload script that ran. The tests are test_page_xss.py (messages and
rejections) and test_page_xss_tabs.py (approvals, notifications, events, apps); each tab
records a figure line for the reliability report (``tests/reliability/figures.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Browser, Page, expect

from reliability import figures

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
#: Longest wait for the page to show what the sandbox holds (it polls once a second).
WAIT_MS = 30_000


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
        # A mention is highlighted inside the escaped text: the payload as the mentioned id.
        {
            "msgtype": "text",
            "text": {"content": f"@{payload} {payload}"},
            "at": {"atUserIds": [payload], "atMobiles": [payload]},
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

# Every payload's script assigns window.__xss; a setter (installed before the page's own
# scripts, in every frame) records each assignment in the top window, so a run is counted
# and named even if a later one overwrites the value. The getter keeps `window.__xss`
# undefined until something runs.
_WATCH = """(() => {
  const runs = [];
  Object.defineProperty(window, '__xssRuns', { value: runs });
  Object.defineProperty(window, '__xss', {
    get: () => runs[runs.length - 1],
    set: (value) => {
      let sink = runs;
      try { sink = window.top.__xssRuns || runs; } catch (error) { /* cross-origin frame */ }
      sink.push(String(value));
    },
  });
})();"""


@dataclass
class Watched:
    """A page whose payload scripts, dialogs and uncaught errors are recorded."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def scripts_run(self) -> list[str]:
        runs: list[str] = self.page.evaluate("() => window.__xssRuns")
        return [*runs, *(f"dialog: {message}" for message in self.dialogs)]

    def disallowed(self) -> list[str]:
        found: list[str] = self.page.evaluate(_AUDIT)
        return found

    def open(self, url: str, tab: str) -> None:
        """Open the page on a tab by its address, as a link would: no click, which a
        payload's style hiding the page would make time out."""
        self.page.goto(f"{url}/#{tab}")
        selected = self.page.get_by_test_id(f"{tab}-tab")
        expect(selected).to_have_attribute("aria-selected", "true", timeout=WAIT_MS)


def watching(browser: Browser) -> Iterator[Watched]:
    """A page in a fresh context, watched from its first script on."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(_WATCH)
    try:
        page = context.new_page()
        state = Watched(page)
        page.on("dialog", lambda dialog: (state.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda exc: state.errors.append(str(exc)))
        yield state
    finally:
        context.close()


@contextmanager
def judged(watched: Watched, tab: str, items: str, **counts: int) -> Iterator[None]:
    """Run a tab's checks, then record its figure line and fail on any script run or markup
    landed. Both also happen when a check inside failed first (a payload's style can hide
    the page, so a click times out): the figure is recorded before any assert, and the
    verdict names what ran. ``items``: a selector for the payload-bearing items shown."""
    try:
        yield
    finally:
        ran, bad = watched.scripts_run(), watched.disallowed()
        figures.record(
            "xss",
            f"chat page, {tab} tab",
            payloads=len(PAYLOADS),
            shown=watched.page.locator(items).count(),
            scripts_run=len(ran),
            disallowed=len(bad),
            **counts,
        )
        assert ran == [], f"payload scripts ran in the {tab} tab"
        assert bad == [], f"payload markup landed in the {tab} tab"
        # A page whose rendering threw would show fewer items than it should, vacuously clean.
        assert watched.errors == []


def shows_every_payload(panel_text: str, variant: Callable[[str], str] = str) -> int:
    """How many payloads (as ``variant`` turns them) appear literally in a panel's text: they
    must be shown as text, not dropped, for the tab's checks to mean anything."""
    return sum(variant(payload) in panel_text for payload in PAYLOADS)


# ---- messages and rejections: robot messages and group names --------------------------------
