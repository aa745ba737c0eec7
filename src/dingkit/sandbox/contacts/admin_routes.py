"""The sandbox's admin actions on the organisation, as an admin would take them in DingTalk's
console; the rules are in :mod:`.admin`. JSON in and out; bad input answers 400, an unknown
id 404, a change the organisation cannot take 409.

    POST   /_sandbox/org/users               {name, dept_id_list, mobile?, userid?, title?...}
    PATCH  /_sandbox/org/users/{userid}      {name?, mobile?, dept_id_list?, title?...}
    DELETE /_sandbox/org/users/{userid}
    POST   /_sandbox/org/departments         {name, parent_id?}   (parent 1 by default)
    PATCH  /_sandbox/org/departments/{id}    {name?, parent_id?}
    DELETE /_sandbox/org/departments/{id}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..._wire import parse_json_strict
from .. import path_ids  # noqa: F401 (registers the {name:id} path parameter)
from . import admin
from .admin import OrgChangeError
from .org import ROOT_DEPT_ID
from .views import detail_json, full_json

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["routes"]

#: The HTTP status of each kind of refusal.
_STATUS = {"invalid": 400, "no_parent": 400, "no_user": 404, "no_department": 404}
_DEPARTMENT_FIELDS = {"name", "parent_id"}

#: An action: the JSON body and the path parameters in, the status and the answer out.
_Action = Callable[[dict[str, Any], dict[str, Any]], tuple[int, dict[str, Any]]]


class _BadBody(Exception):
    pass


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = parse_json_strict(raw or b"{}")
    except ValueError:
        raise _BadBody("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _BadBody("the body must be a JSON object")
    return body


def _department_fields(body: dict[str, Any]) -> None:
    if set(body) - _DEPARTMENT_FIELDS:
        raise OrgChangeError("invalid", "a department takes name and parent_id only")


def routes(sandbox: Sandbox) -> list[Route]:
    def add_user(body: dict[str, Any], _: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user = admin.add_user(sandbox, body)
        return 201, {"user": full_json(user, sandbox.org)}

    def modify_user(body: dict[str, Any], path: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user, changed = admin.modify_user(sandbox, path["userid"], body)
        return 200, {"user": full_json(user, sandbox.org), "changed": changed}

    def remove_user(body: dict[str, Any], path: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        admin.remove_user(sandbox, path["userid"])
        return 200, {"removed": path["userid"]}

    def add_dept(body: dict[str, Any], _: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        _department_fields(body)
        dept = admin.create_department(
            sandbox, name=body.get("name"), parent_id=body.get("parent_id", ROOT_DEPT_ID)
        )
        return 201, {"department": detail_json(dept)}

    def modify_dept(body: dict[str, Any], path: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        _department_fields(body)
        dept, changed = admin.modify_department(
            sandbox, path["dept_id"], name=body.get("name"), parent_id=body.get("parent_id")
        )
        return 200, {"department": detail_json(dept), "changed": changed}

    def remove_dept(body: dict[str, Any], path: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        admin.remove_department(sandbox, path["dept_id"])
        return 200, {"removed": path["dept_id"]}

    def action(handler: _Action) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = _json_body(await request.body()) if request.method != "DELETE" else {}
                status, answer = handler(body, dict(request.path_params))
            except _BadBody as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except OrgChangeError as exc:
                status = _STATUS.get(exc.reason, 409)
                return JSONResponse({"error": exc.message}, status_code=status)
            return JSONResponse(answer, status_code=status)

        return endpoint

    users, depts = "/_sandbox/org/users", "/_sandbox/org/departments"
    return [
        Route(users, action(add_user), methods=["POST"]),
        Route(users + "/{userid}", action(modify_user), methods=["PATCH"]),
        Route(users + "/{userid}", action(remove_user), methods=["DELETE"]),
        Route(depts, action(add_dept), methods=["POST"]),
        Route(depts + "/{dept_id:id}", action(modify_dept), methods=["PATCH"]),
        Route(depts + "/{dept_id:id}", action(remove_dept), methods=["DELETE"]),
    ]
