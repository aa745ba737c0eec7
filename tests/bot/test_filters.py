from __future__ import annotations

import re

import pytest

from dingkit.bot import (
    Filter,
    command,
    from_users,
    group,
    in_conversations,
    mentioned,
    private,
    text_matches,
)
from dingkit.bot.messages import IncomingMessage

from .wire import private_text, text_message

GROUP = text_message(" /deploy prod")
DM = private_text("hello there")


def test_conversation_filters_tell_groups_from_one_to_one_chats() -> None:
    assert group(GROUP)
    assert not private(GROUP)
    assert private(DM)
    assert not group(DM)


def test_mentioned_follows_is_in_at_list() -> None:
    assert mentioned(GROUP)
    assert not mentioned(DM)


def test_text_matches_searches_the_text_without_the_mention_space() -> None:
    assert text_matches(r"^/deploy\b")(GROUP)
    assert text_matches(re.compile("THERE", re.IGNORECASE))(DM)
    assert text_matches("there", re.IGNORECASE)(DM)
    assert not text_matches(r"^hello$")(DM)


def test_from_users_and_in_conversations_compare_ids_exactly() -> None:
    assert from_users("someone", "2665036700000000")(GROUP)
    assert not from_users("26650367")(GROUP)
    assert in_conversations("cidoAgtPbnu9MyulIyt0kpNYg==")(GROUP)
    assert not in_conversations("cid-other")(GROUP)


def test_from_users_never_matches_a_sender_without_a_user_id() -> None:
    outsider = text_message("hi", senderStaffId="")
    assert not from_users("")(outsider)


def test_command_matches_the_first_word_exactly() -> None:
    assert command("/deploy")(GROUP)
    assert not command("/Deploy")(GROUP)
    assert not command("/dep")(GROUP)
    assert not command("/deploy")(text_message("/deployment now"))
    assert command("/deploy")(text_message("/deploy"))
    assert not command("/deploy")(text_message("please /deploy"))


@pytest.mark.parametrize("name", ["", "/two words", "/tab\tname"])
def test_a_command_name_is_one_word(name: str) -> None:
    with pytest.raises(ValueError, match="one word"):
        command(name)


def test_and_or_not_combine_filters() -> None:
    admin = from_users("2665036700000000")
    assert (group & admin)(GROUP)
    assert not (private & admin)(GROUP)
    assert (private | admin)(GROUP)
    assert not (private | ~admin)(GROUP)
    assert (~private)(GROUP)
    assert (~~group)(GROUP)
    assert ((group & ~private) | private)(DM)


def test_plain_callables_combine_on_either_side() -> None:
    def long_text(message: IncomingMessage) -> bool:
        return len(message.text) > 8

    combined = long_text & group
    assert isinstance(combined, Filter)
    assert combined(GROUP)
    assert not combined(DM)
    assert (group | long_text)(DM)
    assert (private & long_text)(DM)


def test_and_or_stop_at_the_first_answer() -> None:
    def explode(message: IncomingMessage) -> bool:
        raise AssertionError("evaluated")

    assert not (private & explode)(GROUP)
    assert (group | explode)(GROUP)


def test_filters_show_what_they_test() -> None:
    shown = repr((group & ~from_users("alice")) | text_matches("^hi"))
    assert shown == "((group & ~from_users('alice')) | text_matches('^hi'))"
    assert repr(command("/deploy")) == "command('/deploy')"


def test_a_non_callable_is_not_a_filter() -> None:
    with pytest.raises(TypeError, match="callable"):
        group & "yes"  # type: ignore[operator]
