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


def test_beyond_loopback_the_page_uses_the_token_from_its_link(browser: Browser) -> None:
    """Bound beyond loopback, the page works from the banner's link (the token rides in the
    fragment, is kept for the tab and taken out of the address bar); without it the admin
    routes refuse the page and no secret reaches it."""
    sandbox = Sandbox.from_settings(config=SandboxConfig(apps=(LIMITED,)))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    try:
        with SandboxServer(sandbox, host="0.0.0.0") as server:
            local = f"http://127.0.0.1:{server.port}"
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{local}/#admin={server.admin_token}")
            page.get_by_test_id("apps-tab").click()
            app = page.locator('[data-testid="app"][data-app-name="hr-reader"]')
            expect(app).to_contain_text("dinghrreader0001")
            assert "admin=" not in page.url
            page.reload()  # the tab keeps the token after it left the address bar
            page.get_by_test_id("apps-tab").click()
            expect(app).to_contain_text("dinghrreader0001")

            stranger = context.browser.new_context() if context.browser else None
            assert stranger is not None
            try:
                other = stranger.new_page()
                with other.expect_response(lambda r: "/_sandbox/" in r.url) as first:
                    other.goto(f"{local}/")
                assert first.value.status == 401
                other.get_by_test_id("apps-tab").click()
                expect(other.locator('[data-testid="app"]')).to_have_count(0)
                expect(other.locator("body")).not_to_contain_text("hr-reader-secret-0001")
            finally:
                stranger.close()
    finally:
        context.close()
        sandbox.close()
    assert errors == []
