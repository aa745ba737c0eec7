"""A headless Chromium shared by the browser tests: Debian's ``chromium``, never a download.

Without ``/usr/bin/chromium`` the tests are skipped, unless ``DINGKIT_REQUIRE_BROWSER=1``
(set in CI), where a missing browser is a failure: a skipped acceptance test proves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from browser.xss import Watched, watching

CHROMIUM = Path("/usr/bin/chromium")
# The machine has no network: these flags stop Chromium from waiting on Google services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Longest wait for anything to show up on the page; the page polls once a second.
EXPECT_TIMEOUT_MS = 10_000


# Module scope, not session: while Playwright's sync API runs, the thread counts as running
# an asyncio loop, which breaks every async test collected after it. A wider scope than the
# tests' also runs this before the autouse ``_clean_environ``, which removes DINGKIT_* vars.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing; install Debian's chromium package (apt)"
        if os.environ.get("DINGKIT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"DINGKIT_REQUIRE_BROWSER=1 but {message}", pytrace=False)
        pytest.skip(message)
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A page that records every payload script run in it (browser/xss.py)."""
    yield from watching(browser)
