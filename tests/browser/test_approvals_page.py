"""The sandbox page's approvals and work-notification tabs in headless Chromium, against a
sandbox served by uvicorn; approvals are started and read back through dingkit's own client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from dingkit import DingTalk
from dingkit.resources.approval import ApproverStep
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.approval.templates import EXPENSE_CODE, LEAVE_CODE
from dingkit.sandbox.config import AppConfig, SandboxConfig

pytestmark = pytest.mark.browser

APP = AppConfig(name="hr-tool", app_key="dinghrtool0001", app_secret="hr-tool-secret-0001")
LEAVE = {
    "请假类型": "年假",
    "请假时间": ("2024-05-01", "2024-05-03"),
    "请假天数": 3,
    "请假事由": "family trip",
}


@dataclass
class Workspace:
    server: SandboxServer
    client: DingTalk
    page: Page

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox

    def open_approvals(self) -> None:
        self.page.goto(self.server.url + "/")
        self.page.get_by_test_id("approvals-tab").click()
        expect(self.page.get_by_test_id("approvals-tab")).to_have_attribute("aria-selected", "true")


@pytest.fixture
def workspace(browser: Browser) -> Iterator[Workspace]:
    sandbox = Sandbox.from_settings(config=SandboxConfig(limits=False, apps=(APP,)))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        with (
            SandboxServer(sandbox) as server,
            DingTalk(
                APP.app_key,
                APP.app_secret,
                oapi_base=server.url,
                api_base=server.url,
                qps=None,
                environ={"DINGTALK_AGENT_ID": str(APP.agent_id)},
            ) as client,
        ):
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            yield Workspace(server, client, page)
            assert errors == []
    finally:
        context.close()
        sandbox.store.close()


def test_approve_a_pending_task_on_the_page(workspace: Workspace) -> None:
    org = workspace.sandbox.org
    originator, approver = org.users[20], org.users[6]
    instance_id = workspace.client.approval.create(
        LEAVE_CODE, originator.userid, LEAVE, approvers=[approver.userid]
    )
    workspace.open_approvals()

    approval = workspace.page.get_by_test_id("approval")
    expect(approval).to_have_count(1)
    expect(approval).to_contain_text(f"{originator.name}提交的请假")
    expect(approval).to_contain_text("请假时间")
    expect(approval).to_contain_text("2024-05-01 ~ 2024-05-03")
    expect(approval.get_by_test_id("approval-status")).to_have_text("审批中 In progress")
    task = approval.get_by_test_id("approval-task")
    expect(task).to_contain_text(approver.name)
    # A reload would drop this global; its survival shows the update came without one.
    workspace.page.evaluate("window.__sameDocument = true")

    approval.get_by_test_id("approve-button").click()

    expect(approval.get_by_test_id("approval-status")).to_have_text("已同意 Approved")
    expect(approval.get_by_test_id("approve-button")).to_have_count(0)
    expect(task).to_contain_text("已同意 Approved")
    assert workspace.page.evaluate("window.__sameDocument") is True
    instance = workspace.client.approval.get(instance_id)
    assert (instance.status, instance.result) == ("COMPLETED", "agree")
    assert instance.operation_records[-1].user_id == approver.userid


def test_refuse_ends_an_or_node_and_new_approvals_appear(workspace: Workspace) -> None:
    org = workspace.sandbox.org
    first, second = org.users[6], org.users[7]
    workspace.open_approvals()
    expect(workspace.page.get_by_text("No approvals yet.")).to_be_visible()

    form = {"报销类型": "餐费", "报销金额（元）": "88.00", "费用日期": "2024-05-01"}
    instance_id = workspace.client.approval.create(
        EXPENSE_CODE, org.users[20].userid, form,
        approvers=[ApproverStep([first.userid, second.userid], "OR")],
    )  # fmt: skip
    approval = workspace.page.get_by_test_id("approval")
    expect(approval).to_have_count(1)  # it came by polling
    expect(approval.get_by_test_id("refuse-button")).to_have_count(2)
    expect(workspace.page.get_by_test_id("approvals-tab")).to_contain_text("1")

    approval.locator(".approval-remark").fill("over budget")
    approval.get_by_test_id("approval-task").filter(has_text=second.name).get_by_test_id(
        "refuse-button"
    ).click()

    expect(approval.get_by_test_id("approval-status")).to_have_text("已拒绝 Rejected")
    expect(approval.get_by_test_id("approval-task").filter(has_text=first.name)).to_contain_text(
        "已取消 Canceled"
    )
    instance = workspace.client.approval.get(instance_id)
    assert instance.result == "refuse"
    assert instance.operation_records[-1].remark == "over budget"


def test_work_notifications_tab(workspace: Workspace) -> None:
    org = workspace.sandbox.org
    workspace.client.notifications.send("**hello** from the app", userids=[org.users[1].userid])
    workspace.client.notifications.send("hello everyone", to_all_user=True)
    workspace.page.goto(workspace.server.url + "/")
    workspace.page.get_by_test_id("notifications-tab").click()

    notices = workspace.page.get_by_test_id("notification")
    expect(notices).to_have_count(2)
    expect(notices.first.get_by_test_id("notification-recipients")).to_contain_text(
        f"{len(org.users)} recipients"
    )
    expect(notices.last.get_by_test_id("notification-recipients")).to_have_text(
        f"1 recipient: {org.users[1].name}"
    )
    expect(notices.last.locator(".dt-text")).to_have_text("**hello** from the app")
    expect(workspace.page.get_by_test_id("approval")).to_have_count(0)
