"""The public API: what each package says it exports exists, the lazy tables agree with what
type checkers see, what public methods return can be imported from a public module, and no
two public classes share a name (after httpx's ``tests/test_exported_members.py``)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dingkit
from dingkit import AsyncDingTalk, DingTalk

#: The SDK's packages; the sandbox (a server) and the CLI are applications built on it.
APPLICATIONS = ("dingkit.sandbox", "dingkit.cli")
FACADES = (
    "contacts",
    "approval",
    "calendar",
    "attendance",
    "notifications",
    "callbacks",
    "robot",
)


def sdk_modules() -> Iterator[str]:
    """Every module of the SDK, private ones included."""
    yield "dingkit"
    for info in pkgutil.walk_packages(dingkit.__path__, "dingkit."):
        if not info.name.startswith(APPLICATIONS) and info.name != "dingkit.__main__":
            yield info.name


def is_public(module: str) -> bool:
    return not any(part.startswith("_") for part in module.split("."))


def lazy_packages() -> list[str]:
    return [name for name in sdk_modules() if hasattr(importlib.import_module(name), "_EXPORTS")]


def type_checking_imports(module: types.ModuleType) -> dict[str, str]:
    """``{name: module}`` for each name the module imports under ``if TYPE_CHECKING:``."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    package = module.__name__ if module.__file__.endswith("__init__.py") else module.__package__
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
                source = "." * statement.level + (statement.module or "")
                resolved = importlib.util.resolve_name(source, package)
                for alias in statement.names:
                    found[alias.asname or alias.name] = resolved
    return found


# -- what each package says it exports ------------------------------------------------------


def test_dingkit_all_is_its_lazy_table_and_version() -> None:
    assert sorted(dingkit.__all__) == sorted([*dingkit._EXPORTS, "__version__"])
    assert len(set(dingkit.__all__)) == len(dingkit.__all__)
    assert dir(dingkit) == sorted(dingkit.__all__)


@pytest.mark.parametrize("package", lazy_packages())
def test_lazy_tables_agree_with_all_and_type_checking_imports(package: str) -> None:
    module = importlib.import_module(package)
    exports: dict[str, str] = module._EXPORTS
    assert set(module.__all__) - {"__version__"} == set(exports)
    # What mypy sees is what ``__getattr__`` loads: the same names from the same modules.
    assert type_checking_imports(module) == exports


@pytest.mark.parametrize("package", lazy_packages())
def test_each_lazy_name_is_defined_where_the_table_says(package: str) -> None:
    module = importlib.import_module(package)
    for name, source in module._EXPORTS.items():
        home = importlib.import_module(source)
        assert name in vars(home), f"{source} has no {name}"
        assert getattr(module, name) is vars(home)[name]


@pytest.mark.parametrize("name", dingkit.__all__)
def test_every_name_in_dingkit_all_is_importable(name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"from dingkit import {name}", namespace)
    assert namespace[name] is getattr(dingkit, name)


@pytest.mark.parametrize(
    "module",
    [name for name in sdk_modules() if hasattr(importlib.import_module(name), "__all__")],
)
def test_every_name_in_a_module_s_all_exists(module: str) -> None:
    loaded = importlib.import_module(module)
    missing = [name for name in loaded.__all__ if not hasattr(loaded, name)]
    assert not missing
    assert len(set(loaded.__all__)) == len(loaded.__all__)


# -- what public methods return --------------------------------------------------------------


def public_home(cls: type) -> str | None:
    """A public module ``cls`` can be imported from under its own name, if any."""
    candidates = ["dingkit", cls.__module__, *filter(is_public, sdk_modules())]
    for name in candidates:
        if is_public(name) and getattr(importlib.import_module(name), cls.__name__, None) is cls:
            return name
    return None


def classes_in(hint: Any) -> Iterator[type]:
    """The dingkit classes a type hint mentions, however deeply nested."""
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and hint.__module__.startswith("dingkit"):
        yield hint
    elif isinstance(origin, type) and origin.__module__.startswith("dingkit"):
        yield origin
    for argument in typing.get_args(hint):
        yield from classes_in(argument)


def returned_classes(owner: Any) -> Iterator[tuple[str, type]]:
    """``(method, class)`` for every class in the return hint of ``owner``'s public methods."""
    for name, method in inspect.getmembers(type(owner), inspect.isfunction):
        if name.startswith("_"):
            continue
        hints = typing.get_type_hints(method)  # also: every hint resolves at run time
        for cls in classes_in(hints.get("return")):
            yield f"{type(owner).__name__}.{name}", cls


@pytest.mark.parametrize("client_class", [DingTalk, AsyncDingTalk])
def test_every_class_public_methods_return_is_importable_from_a_public_module(
    client_class: type[DingTalk] | type[AsyncDingTalk],
) -> None:
    client = client_class("key", "secret", environ={})
    owners = [client, *(getattr(client, facade) for facade in FACADES)]
    seen = {pair for owner in owners for pair in returned_classes(owner)}
    assert len({cls for _, cls in seen}) >= 10  # the walk found the models and pagers
    hidden = sorted(
        f"{method} -> {cls.__qualname__}" for method, cls in seen if not public_home(cls)
    )
    assert not hidden


def test_pagers_and_pages_are_exported_by_dingkit() -> None:
    from dingkit._pagination import AsyncPager, Page, SyncPager

    assert (dingkit.SyncPager, dingkit.AsyncPager, dingkit.Page) == (SyncPager, AsyncPager, Page)


# -- distinct names --------------------------------------------------------------------------


def public_classes() -> dict[str, set[str]]:
    """``{class name: {qualified homes}}`` for every class a public SDK module exports."""
    classes: dict[str, dict[type, str]] = {}
    for name in filter(is_public, sdk_modules()):
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
        for attribute in exported:
            value = getattr(module, attribute)
            if isinstance(value, type) and value.__module__.startswith("dingkit"):
                classes.setdefault(attribute, {}).setdefault(
                    value, f"{value.__module__}.{value.__qualname__}"
                )
    return {name: set(homes.values()) for name, homes in classes.items()}


def test_no_two_public_classes_share_a_name() -> None:
    shared = {name: homes for name, homes in public_classes().items() if len(homes) > 1}
    assert not shared


def test_robot_and_work_notification_messages_have_distinct_names() -> None:
    classes = public_classes()
    for name in ("Text", "Markdown", "Link", "ActionCard"):
        assert classes[name] == {f"dingkit.robot.messages.{name}"}
        assert classes[f"Work{name}"] == {f"dingkit.resources._work_messages.Work{name}"}


def test_the_two_event_models_have_distinct_names() -> None:
    from dingkit.callback import CallbackEvent
    from dingkit.resources.calendar import CalendarEvent

    classes = public_classes()
    assert "Event" not in classes
    assert classes["CalendarEvent"] == {f"{CalendarEvent.__module__}.CalendarEvent"}
    assert classes["CallbackEvent"] == {f"{CallbackEvent.__module__}.CallbackEvent"}
