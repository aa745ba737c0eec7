"""The sandbox page's Apps tab in headless Chromium: every app with its permission points,
visible range, callers and quota."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, SandboxConfig

pytestmark = pytest.mark.browser

LIMITED = AppConfig(
    name="hr-reader",
    app_key="dinghrreader0001",
    app_secret="hr-reader-secret-0001",
    scopes=("qyapi_get_member", "qyapi_get_department_list"),
    visible_depts=(1,),
    monthly_quota=5000,
)
OPEN = AppConfig(name="everything", app_key="dingeverything01", app_secret="everything-0001")


def test_the_apps_tab_shows_each_app_and_its_permissions(browser: Browser) -> None:
    sandbox = Sandbox.from_settings(config=SandboxConfig(apps=(LIMITED, OPEN)))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    try:
        with SandboxServer(sandbox) as server:
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url + "/#apps")
            page.get_by_test_id("apps-tab").click()
            limited = page.locator('[data-testid="app"][data-app-name="hr-reader"]')
            expect(limited).to_contain_text("dinghrreader0001")
            scopes = limited.get_by_test_id("app-scopes")
            expect(scopes).to_contain_text("qyapi_get_member")
            expect(scopes).to_contain_text("qyapi_get_department_list")
            expect(limited).to_contain_text("5000 calls a month")
            expect(limited).to_contain_text("sees departments 1")
            everything = page.locator('[data-testid="app"][data-app-name="everything"]')
            expect(everything.get_by_test_id("app-scopes")).to_have_text("every permission")
            expect(page.locator('[data-testid="app"]')).to_have_count(2)
    finally:
        context.close()
        sandbox.close()
    assert errors == []
