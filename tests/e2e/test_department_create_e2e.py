"""client.contacts.create_department against the sandbox, sync and async: the department
exists afterwards, its sibling names are unique, an unknown parent is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dingkit import AsyncDingTalk, BadRequestError, DingTalk, NotFoundError
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, SandboxConfig

APP = AppConfig(name="hr", app_key="dinghr0001", app_secret="hr-secret-0001")


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    sandbox = Sandbox.from_settings(config=SandboxConfig(apps=(APP,), limits=False, org_size=60))
    with SandboxServer(sandbox) as running:
        yield running


def test_the_sync_client_creates_a_department(server: SandboxServer) -> None:
    with DingTalk(APP.app_key, APP.app_secret, oapi_base=server.url, api_base=server.url) as c:
        dept_id = c.contacts.create_department("同步组", 1)
        created = c.contacts.department(dept_id)
        assert (created.name, created.parent_id) == ("同步组", 1)
        assert dept_id in c.contacts.sub_department_ids(1)
        with pytest.raises(BadRequestError) as taken:
            c.contacts.create_department("同步组", 1)
        with pytest.raises(NotFoundError) as no_parent:
            c.contacts.create_department("孤儿组", 999)
    assert taken.value.errcode == 60008
    assert no_parent.value.errcode == 60004


@pytest.mark.anyio
async def test_the_async_client_creates_a_department(server: SandboxServer) -> None:
    async with AsyncDingTalk(
        APP.app_key, APP.app_secret, oapi_base=server.url, api_base=server.url
    ) as client:
        division = (await client.contacts.sub_department_ids(1))[0]
        dept_id = await client.contacts.create_department("异步组", division)
        assert (await client.contacts.department(dept_id)).parent_id == division
    assert server.sandbox.org.departments[dept_id].name == "异步组"
