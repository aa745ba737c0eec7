import time

import pytest

from dingkit.sandbox.robot.markdown import is_image_url, is_safe_link, render_markdown

LINK_ATTRS = 'target="_blank" rel="noopener noreferrer"'


@pytest.mark.parametrize("level", range(1, 7))
def test_headings_one_to_six(level: int) -> None:
    assert render_markdown("#" * level + " Title") == f"<h{level}>Title</h{level}>"


def test_seven_hashes_is_not_a_heading() -> None:
    assert render_markdown("####### Title") == "<p>####### Title</p>"


def test_heading_needs_a_space_so_hashtags_stay_text() -> None:
    assert render_markdown("#123 failed") == "<p>#123 failed</p>"


def test_heading_closing_hashes_are_dropped() -> None:
    assert render_markdown("## Deploy ##") == "<h2>Deploy</h2>"


def test_block_quote_groups_consecutive_lines() -> None:
    assert render_markdown("> one\n> two") == "<blockquote><p>one<br>two</p></blockquote>"


def test_nested_block_quote() -> None:
    assert render_markdown("> outer\n> > inner") == (
        "<blockquote><p>outer</p><blockquote><p>inner</p></blockquote></blockquote>"
    )


def test_quote_nesting_is_bounded() -> None:
    html = render_markdown(">" * 5000 + " deep")
    assert html.count("<blockquote>") == 8
    assert "deep" in html


def test_bold() -> None:
    assert render_markdown("a **b** c") == "<p>a <strong>b</strong> c</p>"


def test_italic() -> None:
    assert render_markdown("a *b* c") == "<p>a <em>b</em> c</p>"


def test_italic_nested_in_bold() -> None:
    assert render_markdown("**a *b* c**") == "<p><strong>a <em>b</em> c</strong></p>"


def test_bold_italic() -> None:
    assert render_markdown("***x***") == "<p><strong><em>x</em></strong></p>"


def test_stars_with_spaces_are_not_emphasis() -> None:
    assert render_markdown("2 * 3 * 4") == "<p>2 * 3 * 4</p>"


def test_unclosed_bold_stays_text() -> None:
    assert render_markdown("**open") == "<p>**open</p>"


def test_link() -> None:
    assert render_markdown("see [docs](https://example.com/a?b=1&c=2)") == (
        f'<p>see <a href="https://example.com/a?b=1&amp;c=2" {LINK_ATTRS}>docs</a></p>'
    )


def test_link_text_may_be_bold() -> None:
    assert render_markdown("[**go**](http://x.test)") == (
        f'<p><a href="http://x.test" {LINK_ATTRS}><strong>go</strong></a></p>'
    )


def test_link_with_parentheses_in_url() -> None:
    html = render_markdown("[wiki](https://en.wikipedia.org/wiki/Go_(game))")
    assert 'href="https://en.wikipedia.org/wiki/Go_(game)"' in html


def test_dingtalk_scheme_link_is_allowed() -> None:
    url = "dingtalk://dingtalkclient/page/link?url=https%3A%2F%2Fx.test"
    assert f'<a href="{url}"' in render_markdown(f"[open]({url})")


def test_stars_inside_a_url_do_not_become_emphasis() -> None:
    html = render_markdown("[a](https://x.test/*b*) *c*")
    assert 'href="https://x.test/*b*"' in html
    assert "<em>c</em>" in html


def test_image_with_http_url() -> None:
    assert render_markdown("![chart](https://img.test/c.png)") == (
        '<p><img class="md-img" src="https://img.test/c.png" alt="chart" loading="lazy"></p>'
    )


def test_image_with_media_id_is_a_placeholder_not_an_img() -> None:
    html = render_markdown("![](@lADOADmaWMzazQKA)")
    assert "<img" not in html
    assert '<span class="md-media" title="image">' in html
    assert '<span class="md-media-id">@lADOADmaWMzazQKA</span>' in html


def test_image_inside_a_link() -> None:
    html = render_markdown("[![p](https://img.test/p.png)](https://x.test)")
    assert html == (
        f'<p><a href="https://x.test" {LINK_ATTRS}>'
        '<img class="md-img" src="https://img.test/p.png" alt="p" loading="lazy"></a></p>'
    )


def test_unordered_list() -> None:
    assert render_markdown("- a\n- **b**") == "<ul><li>a</li><li><strong>b</strong></li></ul>"


def test_ordered_list() -> None:
    assert render_markdown("1. a\n2. b") == "<ol><li>a</li><li>b</li></ol>"


def test_ordered_list_keeps_its_first_number() -> None:
    assert render_markdown("3. c\n4. d") == '<ol start="3"><li>c</li><li>d</li></ol>'


def test_list_kinds_do_not_merge() -> None:
    assert render_markdown("- a\n1. b") == "<ul><li>a</li></ul><ol><li>b</li></ol>"


def test_single_newline_is_a_line_break() -> None:
    assert render_markdown("one  \ntwo\r\nthree") == "<p>one<br>two<br>three</p>"


def test_blank_line_separates_paragraphs() -> None:
    assert render_markdown("one\n\n\ntwo") == "<p>one</p><p>two</p>"


def test_mixed_blocks_in_order() -> None:
    text = "# T\nintro\n> note\n- x\n1. y\nend"
    assert render_markdown(text) == (
        "<h1>T</h1><p>intro</p><blockquote><p>note</p></blockquote>"
        "<ul><li>x</li></ul><ol><li>y</li></ol><p>end</p>"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("| a | b |\n|---|---|", "<p>| a | b |<br>|---|---|</p>"),
        ("```\ncode\n```", "<p>```<br>code<br>```</p>"),
        ("~~gone~~", "<p>~~gone~~</p>"),
        ("<b>bold</b>", "<p>&lt;b&gt;bold&lt;/b&gt;</p>"),
    ],
    ids=["table", "code-fence", "strikethrough", "html"],
)
def test_unsupported_markdown_stays_literal_text(source: str, expected: str) -> None:
    assert render_markdown(source) == expected


def test_font_colour_as_every_client_shows_it() -> None:
    assert render_markdown("<font color=#FF0000>red</font> text") == (
        '<p><span class="md-font" style="color: #FF0000">red</span> text</p>'
    )


def test_font_colour_inside_a_link_and_around_bold() -> None:
    html = render_markdown(
        "[<font color=#0088FF>详情</font>](https://x.test) <font color=#00aa00>**ok**</font>"
    )
    assert (
        f'<a href="https://x.test" {LINK_ATTRS}>'
        '<span class="md-font" style="color: #0088FF">详情</span></a>'
    ) in html
    assert '<span class="md-font" style="color: #00aa00"><strong>ok</strong></span>' in html


def test_nested_font_tags_pair_like_html() -> None:
    assert render_markdown("<font color=#111111>a<font color=#222222>b</font>c</font>") == (
        '<p><span class="md-font" style="color: #111111">a'
        '<span class="md-font" style="color: #222222">b</span>c</span></p>'
    )


@pytest.mark.parametrize(
    "source",
    [
        "<font color=red>x</font>",
        '<font color="#FF0000">x</font>',
        "<font color='#FF0000'>x</font>",
        "<font color=#f00>x</font>",
        "<font color=#FF0000;background:url(javascript:1)>x</font>",
        "<font color=expression(alert(1))>x</font>",
    ],
    ids=["name", "double-quoted", "single-quoted", "short-hex", "css-injection", "expression"],
)
def test_font_colour_other_than_an_unquoted_six_digit_hex_is_not_applied(source: str) -> None:
    html = render_markdown(source)
    assert "style=" not in html
    assert html.startswith('<p><span class="md-font" title="')
    assert html.endswith(">x</span></p>")


@pytest.mark.parametrize(
    "source",
    [
        "<font color=#FF0000>never closed",
        "</font>stray close",
        '<font color="#FF0000" onmouseover=x">x</font>',
    ],
)
def test_unclosed_or_malformed_font_tags_stay_text(source: str) -> None:
    html = render_markdown(source)
    assert "<span" not in html
    assert "&lt;" in html


def test_font_attributes_other_than_colour_go_nowhere() -> None:
    html = render_markdown('<font color=#FF0000 onclick="alert(1)" style=x>x</font>')
    assert html == '<p><span class="md-font" style="color: #FF0000">x</span></p>'


def test_font_size_and_face_are_accepted_and_ignored() -> None:
    assert render_markdown("<font size=5 face=黑体 color=#123456>z</font>") == (
        '<p><span class="md-font" style="color: #123456">z</span></p>'
    )


def test_script_tag_is_escaped() -> None:
    html = render_markdown("<script>alert('x')</script>")
    assert "<script" not in html
    assert html == "<p>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</p>"


def test_escaping_happens_inside_headings_quotes_and_lists() -> None:
    html = render_markdown("# <i>\n> <i>\n- <i>\n1. <i>")
    assert "<i>" not in html
    assert html.count("&lt;i&gt;") == 4


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "//evil.test/x",
        "java&#115;cript:alert(1)",
    ],
)
def test_links_with_other_schemes_stay_text(url: str) -> None:
    html = render_markdown(f"[click]({url})")
    assert "<a" not in html
    assert html.startswith("<p>[click](")


def test_javascript_image_is_not_an_img() -> None:
    html = render_markdown("![x](javascript:alert(1))")
    assert "<img" not in html
    assert "md-media" in html


def test_quote_in_link_url_cannot_break_out_of_the_attribute() -> None:
    html = render_markdown('[x](https://a.test/"onmouseover="alert(1))')
    assert html == (
        f'<p><a href="https://a.test/&quot;onmouseover=&quot;alert(1)" {LINK_ATTRS}>x</a></p>'
    )


def test_quote_in_image_url_and_alt_cannot_break_out() -> None:
    html = render_markdown('![a"b](https://i.test/\'x"onerror="y)')
    assert 'alt="a&quot;b"' in html
    assert 'src="https://i.test/&#x27;x&quot;onerror=&quot;y"' in html


def test_nul_characters_cannot_forge_placeholders() -> None:
    html = render_markdown("\x000\x00 [a](https://x.test)")
    assert "\x00" not in html
    assert html.count("<a ") == 1


def test_url_helpers() -> None:
    assert is_safe_link("HTTPS://x.test")
    assert is_safe_link("dingtalk://dingtalkclient/action/sendmsg")
    assert not is_safe_link(" javascript:alert(1)")
    assert is_image_url("http://x.test/a.png")
    assert not is_image_url("@lADOADmaWMzazQKA")


@pytest.mark.parametrize(
    "hostile",
    [
        "[" * 20000,
        "**a " * 5000,
        "*a " * 6600,
        "![" * 10000,
        "[a](" + "(" * 20000,
        "<font color=#000000>" * 1000,
        "<font color=#000000>a</font>" * 700,
        "<font" + " a=b" * 5000 + ">",
    ],
)
def test_hostile_input_renders_quickly(hostile: str) -> None:
    started = time.perf_counter()
    render_markdown(hostile)
    assert time.perf_counter() - started < 2.0
