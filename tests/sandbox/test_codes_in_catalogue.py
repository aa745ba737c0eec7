"""Every code the sandbox can answer is a row of the error catalogue, with an explanation and
what to do: the codes are collected from the sandbox's rules themselves (every place that
builds a failure), so a new refusal with an unknown code fails here."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import dingkit.sandbox
from dingkit._errcodes import Api, lookup
from dingkit.resources import all_endpoints
from dingkit.sandbox.approval.instances import ERRORS as APPROVAL_ERRORS
from dingkit.sandbox.robot.rules import _ERRORS as ROBOT_ERRORS

SANDBOX = Path(dingkit.sandbox.__file__).parent

# What each failure constructor takes, as (position of the code, family): old-family errcodes
# and new-family codes. `bad` is approval's shorthand for a new-family HTTP 400.
_CONSTRUCTORS: dict[str, tuple[int | str, Api]] = {
    "OapiError": (0, Api.OAPI),
    "oapi_error": (0, Api.OAPI),
    "NoticeError": (0, Api.OAPI),
    "ApiError": (1, Api.API),
    "api_error": (1, Api.API),
    "bad": (0, Api.API),
    "WindowError": (0, Api.API),
    "CalendarEventError": ("code", Api.API),
    "_gateway_error": (0, Api.OAPI),  # the sub-code inside errcode 88
}
#: Arguments that are not literals, each a code decided elsewhere and checked elsewhere:
#: re-raised failures and the endpoint's declared parameter error (checked below).
_PASSED_ON = {
    *(f"{name}.{field}" for name in ("exc", "outcome") for field in ("errcode", "code", "status")),
    "code",
    "status",
}


def _constants(tree: ast.Module) -> dict[str, object]:
    """The module's ``NAME = <literal>`` assignments."""
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _literal_codes() -> Iterator[tuple[str, int | str, Api]]:
    for path in sorted(SANDBOX.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in _CONSTRUCTORS:
                continue
            where, family = _CONSTRUCTORS[name]
            if isinstance(where, str):
                found = [k.value for k in node.keywords if k.arg == where]
                if not found:
                    continue  # the default code, invalidParameter
                argument = found[0]
            elif len(node.args) > where:
                argument = node.args[where]
            else:
                continue
            if isinstance(argument, ast.Starred):
                continue  # *_UNAVAILABLE: checked with the constants below
            place = f"{path.relative_to(SANDBOX)}:{node.lineno}"
            if isinstance(argument, ast.Name) and isinstance(constants.get(argument.id), int | str):
                yield place, constants[argument.id], family  # type: ignore[misc]
            elif isinstance(argument, ast.Constant) and isinstance(argument.value, int | str):
                yield place, argument.value, family
            elif isinstance(argument, ast.UnaryOp) and isinstance(argument.operand, ast.Constant):
                yield place, -argument.operand.value, family  # -1
            else:
                assert ast.unparse(argument) in _PASSED_ON, f"{place}: a code that is not a literal"


def _codes() -> list[tuple[str, int | str, Api]]:
    codes = list(_literal_codes())
    codes += [("approval ERRORS", code, Api.API) for code, _ in APPROVAL_ERRORS.values()]
    for reason, (doc, observed, _, _) in ROBOT_ERRORS.items():
        codes += [(f"robot {reason}", doc, Api.ROBOT), (f"robot {reason}", observed, Api.ROBOT)]
    from dingkit.sandbox.bots.conversations import SESSION_GONE
    from dingkit.sandbox.gateway import pipeline

    codes.append(("bots SESSION_GONE", SESSION_GONE[0], Api.ROBOT))

    codes.append(("gateway _UNAVAILABLE", pipeline._UNAVAILABLE[0], Api.API))
    codes += [
        ("gateway QPS", 90018, Api.OAPI),
        ("gateway busy", -1, Api.OAPI),
        ("88", 88, Api.OAPI),
    ]
    return codes


def _declared_parameter_errors() -> list[tuple[str, int | str, Api]]:
    return [
        (
            endpoint.path,
            endpoint.parameter_error,
            # The robot webhook and the app robot's session webhook answer in the robot's codes.
            Api.ROBOT if endpoint.path.startswith("/robot/send") else Api(endpoint.family),
        )
        for endpoint in all_endpoints()
    ]


CODES = _codes() + _declared_parameter_errors()


def test_the_scan_finds_the_sandbox_s_refusals() -> None:
    found = {code for _, code, _ in CODES}
    # A few every reader of the sandbox knows are there: if the scan missed these, it would
    # be missing others too.
    assert {60008, 60004, 41041, 40056, 71009, 900004, 22, 404} <= found
    assert {"formConverterError", "processInstanceNotExist", "itemNotFound"} <= found
    assert {"aflowProcessInstStatusException", "InvalidAuthentication", "flowLimit"} <= found
    assert {400101, 300005, 410100, 660026, 310000} <= found


@pytest.mark.parametrize(("place", "code", "family"), CODES, ids=lambda v: str(v))
def test_every_code_the_sandbox_answers_is_explained(
    place: str, code: int | str, family: Api
) -> None:
    rows = [row for row in lookup(code) if row.api is family]
    assert rows, f"{place}: {family.value} code {code!r} is not in the error catalogue"
    row = rows[0]
    assert row.meaning, f"{code}: the catalogue says what it means"
    assert row.action, f"{code}: the catalogue says what to do"
