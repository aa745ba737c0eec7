from __future__ import annotations

import pytest

from dingkit.bot import Router, group, private, text_matches
from dingkit.bot.router import Match

from .wire import ROBOT_DINGTALK_ID, private_text, text_message


def noop() -> None:
    return None


def named(name: str) -> object:
    def handler() -> None:
        return None

    handler.__qualname__ = name
    return handler


def resolved(router: Router, content: str, **changes: object) -> Match:
    match = router.resolve(text_message(content, **changes))
    assert match is not None
    return match


# -- commands --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "args"),
    [
        (" /deploy", []),
        (" /deploy prod", ["prod"]),
        (' /deploy prod "release 2" --force', ["prod", "release 2", "--force"]),
        (" /deploy 'a b'  c", ["a b", "c"]),
        (" /deploy\u3000生产\u3000环境", ["生产", "环境"]),  # full-width spaces separate words
        (r" /deploy C:\build\out", [r"C:\build\out"]),  # a backslash is a character
        (" /deploy #42", ["#42"]),  # not a comment
        (" /deploy don't stop", ["don't", "stop"]),  # an unclosed quote falls back to split
        ("/deploy\nprod", ["prod"]),
    ],
)
def test_a_command_splits_its_arguments_like_a_shell(content: str, args: list[str]) -> None:
    router = Router()
    router.command("/deploy")(noop)
    assert resolved(router, content).args == args


@pytest.mark.parametrize("content", ["/Deploy prod", "/deployment", "deploy", "run /deploy", ""])
def test_a_command_is_the_exact_first_word(content: str) -> None:
    router = Router()
    router.command("/deploy")(noop)
    assert router.resolve(text_message(content)) is None


def test_a_command_may_follow_mentions_of_other_people() -> None:
    router = Router()
    router.command("/deploy")(noop)
    at_users = [{"dingtalkId": ROBOT_DINGTALK_ID}, {"dingtalkId": "$:a", "staffId": "alice"}]
    match = resolved(router, " @Alice /deploy prod", atUsers=at_users)
    assert match.args == ["prod"]


def test_only_as_many_leading_words_as_mentions_are_skipped() -> None:
    router = Router()
    router.command("/deploy")(noop)
    # One mention (the robot's own, already removed by DingTalk): "@Alice" is then the text's
    # first word, and a second "@word" is not skipped.
    assert (
        router.resolve(text_message("@Alice @Bob /deploy", atUsers=[{"dingtalkId": "x"}])) is None
    )
    assert router.resolve(private_text("@Alice /deploy")) is None


def test_a_command_with_filters_needs_them_all() -> None:
    router = Router()
    router.command("/deploy", private)(noop)
    assert router.resolve(text_message("/deploy")) is None
    assert router.resolve(private_text("/deploy")) is not None


# -- message handlers, order and fallback ----------------------------------------------------


def test_the_first_matching_handler_in_registration_order_answers() -> None:
    router = Router()
    first, second, third = named("first"), named("second"), named("third")
    router.message(text_matches("^ping"))(first)
    router.message(group)(second)
    router.message()(third)
    assert resolved(router, "ping").handler.function is first
    assert resolved(router, "pong").handler.function is second
    match = router.resolve(private_text("pong"))
    assert match is not None
    assert match.handler.function is third


def test_message_handlers_get_the_words_of_the_whole_text() -> None:
    router = Router()
    router.message()(noop)
    assert resolved(router, ' /a "b c"').args == ["/a", "b c"]


def test_every_filter_of_a_message_handler_must_pass() -> None:
    router = Router()
    router.message(group, text_matches("^x"))(noop)
    assert router.resolve(text_message("x")) is not None
    assert router.resolve(text_message("y")) is None
    assert router.resolve(private_text("x")) is None


def test_the_fallback_runs_only_when_nothing_matched() -> None:
    router = Router()
    handler, fallback = named("handler"), named("fallback")
    router.fallback()(fallback)
    router.command("/known")(handler)
    assert resolved(router, "/known").handler.function is handler
    match = resolved(router, "/unknown x")
    assert match.handler.function is fallback
    assert match.fallback
    assert match.args == ["/unknown", "x"]


def test_without_a_fallback_nothing_answers() -> None:
    assert Router().resolve(text_message("hi")) is None


def test_a_router_has_one_fallback() -> None:
    router = Router("main")
    router.fallback()(noop)
    with pytest.raises(ValueError, match="already has a fallback"):
        router.fallback()(noop)


# -- nested routers --------------------------------------------------------------------------


def test_an_included_router_is_searched_where_it_was_included() -> None:
    root, child = Router("root"), Router("child")
    before, inside, after = named("before"), named("inside"), named("after")
    root.command("/a")(before)
    root.include(child)
    child.command("/a")(inside)
    child.command("/b")(inside)
    root.command("/b")(after)
    root.command("/c")(after)
    assert resolved(root, "/a").handler.function is before
    match = resolved(root, "/b")
    assert match.handler.function is inside
    assert match.router is child
    assert resolved(root, "/c").handler.function is after
    assert root.commands() == ["/a", "/b", "/c"]


def test_the_outermost_fallback_wins_and_a_child_s_serves_when_the_parent_has_none() -> None:
    root, child, grandchild = Router("root"), Router("child"), Router("grandchild")
    root.include(child)
    child.include(grandchild)
    inner, outer = named("inner"), named("outer")
    grandchild.fallback()(inner)
    assert resolved(root, "?").handler.function is inner
    root.fallback()(outer)
    assert resolved(root, "?").handler.function is outer
    assert resolved(root, "?").router is root


def test_a_child_s_handlers_outrank_the_parent_s_fallback() -> None:
    root, child = Router(), Router()
    fallback, handler = named("fallback"), named("handler")
    root.fallback()(fallback)
    root.include(child)
    child.command("/x")(handler)
    assert resolved(root, "/x").handler.function is handler


def test_a_router_is_included_once_and_never_in_a_loop() -> None:
    root, child, other = Router("root"), Router("child"), Router("other")
    root.include(child)
    with pytest.raises(ValueError, match="already included"):
        other.include(child)
    with pytest.raises(ValueError, match="loop"):
        child.include(root)
    with pytest.raises(ValueError, match="loop"):
        root.include(root)


def test_registration_checks_the_command_name_and_the_filters() -> None:
    router = Router()
    with pytest.raises(ValueError, match="one word"):
        router.command("/two words")
    with pytest.raises(TypeError, match="callable"):
        router.message("group")  # type: ignore[arg-type]
