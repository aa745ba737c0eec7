"""What a fuzzer would send: every body either becomes a notification that renders into a
message DingTalk accepts, or a SourceError (a 4xx); nothing else escapes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dingkit.relay import GITHUB_EVENTS, SOURCES, Notification, SourceError, parse, render
from dingkit.robot.compose import validate_message

from .payloads import fixture_paths, headers_for, load

_SETTINGS = settings(
    derandomize=True,
    deadline=None,
    max_examples=300,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()  # NaN and infinities too: the server should refuse them, but if not
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "firing",
            "resolved",
            "2024-05-01T08:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-12:00",
            "refs/heads/main",
            "failed",
            "@all",
            "[x](y)",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=24,
)


def check(source: str, headers: dict[str, str], body: Any) -> Notification | None:
    try:
        note = parse(source, headers, body)
    except SourceError as error:
        message = str(error)  # a 4xx answer must say what is wrong
        assert message.strip(), repr(error)  # noqa: PT017
        return None
    validate_message(render(note, mentions=["u1"]), msg_uuid="0" * 32)
    return note


@pytest.mark.parametrize("source", list(SOURCES))
@_SETTINGS
@given(body=json_values, event=st.sampled_from([*GITHUB_EVENTS, "star", ""]))
def test_random_bodies_parse_or_raise_source_error(source: str, body: Any, event: str) -> None:
    check(source, {"X-GitHub-Event": event}, body)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a parsed JSON value (iterative: fixtures are shallow anyway)."""
    found, stack = [], [(prefix, value)]
    while stack:
        where, item = stack.pop()
        children = (
            item.items()
            if isinstance(item, dict)
            else enumerate(item)
            if isinstance(item, list)
            else ()
        )
        for key, child in children:
            found.append((*where, key))
            stack.append(((*where, key), child))
    return found


FIXTURES = fixture_paths()


@_SETTINGS
@given(data=st.data())
def test_fixtures_with_one_field_replaced_or_removed_parse_or_raise(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(FIXTURES))
    body = copy.deepcopy(load(name))
    path = data.draw(st.sampled_from(paths(body)))
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values)
    check(name.split("/")[0], headers_for(name, load(name)), body)


@pytest.mark.parametrize("source", list(SOURCES))
def test_deep_nesting_anywhere_is_read_or_refused_not_a_crash(source: str) -> None:
    deep: Any = "x"
    for _ in range(50_000):
        deep = [deep]
    for name in [n for n in FIXTURES if n.startswith(source)] or ["generic"]:
        body = {"x": 1} if name == "generic" else load(name)
        headers = headers_for(name, body) if name != "generic" else {}
        for key in list(body):
            check(source, headers, {**body, key: deep})
        if "alerts" in body:
            alerts = copy.deepcopy(body["alerts"])
            alerts[0]["labels"] = {"alertname": deep}
            check(source, headers, {**body, "alerts": alerts})


def test_headers_of_the_wrong_type_are_ignored_not_a_crash() -> None:
    body = load("github/push-new-branch-1-commit.json")
    odd: Any = {"X-GitHub-Event": "push", "X-GitHub-Delivery": 5, 7: "x"}
    assert parse("github", odd, body).dedup_key is None
