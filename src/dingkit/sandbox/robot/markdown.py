"""Render the markdown subset that DingTalk shows in robot messages as safe HTML.

DingTalk renders only headings, block quotes, bold, italic, links, images, lists and
line breaks (protocol note §2.2), and, beyond its documented list, ``<font color=...>``;
tables, code fences, other HTML and strikethrough stay literal text. The input is
HTML-escaped before any markup is added, so the output can be inserted as ``innerHTML``:
every ``<``, ``&`` and quote in it came from here.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Iterable

__all__ = ["is_image_url", "is_safe_link", "render_markdown"]

# Schemes a robot message may link to. ``dingtalk:`` opens pages inside the DingTalk
# client (``dingtalk://dingtalkclient/page/link?url=...``). An allowlist, not a
# blocklist: anything else, ``javascript:`` and its obfuscations included, stays text.
_LINK_SCHEME = re.compile(r"(?:https?|dingtalk):", re.IGNORECASE)
_IMAGE_SCHEME = re.compile(r"https?:", re.IGNORECASE)

# Nested quotes render recursively; past this depth ``>`` is plain text, so a line of
# thousands of ``>`` cannot exhaust the stack.
_MAX_QUOTE_DEPTH = 8

# Bounded repetitions keep every pattern linear-ish on the 20000-byte bodies DingTalk
# accepts: an unclosed ``[`` or ``**`` scans at most this far instead of to the end.
_URL = r"(?:[^\s()]|\([^\s()]*\)){1,2000}"
_IMAGE = re.compile(r"!\[([^\]\n]{0,500})\]\(\s*(" + _URL + r")\s*\)")
_LINK = re.compile(r"\[([^\]\n]{1,500})\]\(\s*(" + _URL + r")\s*\)")
_STRONG_EM = re.compile(r"\*\*\*(?=[^\s*])(.{1,1000}?)(?<=[^\s*])\*\*\*")
_STRONG = re.compile(r"\*\*(?=\S)(.{1,1000}?)(?<=\S)\*\*")
_EM = re.compile(r"(?<!\*)\*(?=[^\s*])(.{1,1000}?)(?<=[^\s*])\*(?!\*)")

# Rendered inline pieces are parked behind these markers so that later patterns never
# look inside tags or URLs. NUL cannot occur in the input: it is replaced on entry.
_SLOT = re.compile("\x00(\\d+)\x00")

# ``<font color=#FF0000>text</font>``, matched in the escaped text, where "<" is "&lt;" and
# quotes are entities. An attribute value holds no "&", so no entity hides inside it.
_FONT_TAG = re.compile(
    r"&lt;(/?)font((?:\s{1,20}[A-Za-z-]{1,20}\s{0,20}=\s{0,20}"
    r"(?:&quot;[^&\s]{0,64}&quot;|&#x27;[^&\s]{0,64}&#x27;|[^&\s]{1,64})){0,8})\s{0,20}&gt;",
    re.IGNORECASE,
)
_FONT_ATTR = re.compile(
    r"([A-Za-z-]{1,20})\s*=\s*(?:&quot;([^&\s]*)&quot;|&#x27;([^&\s]*)&#x27;|([^&\s]+))"
)
# [I] from §2.2's [O] findings: an unquoted 6-digit hex colours text on every client; a
# colour name or a quoted value only on the desktop client, so the page leaves those
# uncoloured (with a note) rather than promise what the phone app will not show. The value
# reaches the style attribute only after matching this, so it cannot carry anything else.
_EVERYWHERE_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
_DESKTOP_ONLY_NOTE = "DingTalk colours text on every client only with an unquoted #RRGGBB"
# Font tags nest (inside one another, bold, links); past this depth a tag is plain text,
# which bounds how deep the parked pieces nest.
_MAX_FONT_DEPTH = 8

_HEADING = re.compile(r" {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*")
_QUOTE = re.compile(r" {0,3}>[ \t]?(.*)")
_BULLET = re.compile(r"[ \t]*[-*+][ \t]+(.*)")
_ORDERED = re.compile(r"[ \t]*(\d{1,9})[.)][ \t]+(.*)")


def is_safe_link(url: str) -> bool:
    """Whether ``url`` may become a clickable link (http, https or dingtalk)."""
    return _LINK_SCHEME.match(url) is not None


def is_image_url(url: str) -> bool:
    """Whether ``url`` can be shown as an image; anything else is a media id or junk."""
    return _IMAGE_SCHEME.match(url) is not None


def render_markdown(text: str) -> str:
    """Return the HTML DingTalk would show for the markdown ``text``."""
    text = text.replace("\x00", "\ufffd").replace("\r\n", "\n").replace("\r", "\n")
    return _render_blocks(text.split("\n"), depth=0)


def _classify(line: str, depth: int) -> tuple[str, str]:
    """Name the kind of block a raw line belongs to, with the part that carries text."""
    if not line.strip():
        return "blank", ""
    if depth < _MAX_QUOTE_DEPTH and (match := _QUOTE.fullmatch(line)):
        return "quote", match[1]
    if _HEADING.fullmatch(line):
        return "heading", line
    if match := _BULLET.fullmatch(line):
        return "bullet", match[1]
    if _ORDERED.fullmatch(line):
        return "ordered", line
    return "text", line


def _render_blocks(lines: Iterable[str], depth: int) -> str:
    classified = (_classify(line, depth) for line in lines)
    blocks: list[str] = []
    for kind, group in itertools.groupby(classified, key=lambda item: item[0]):
        parts = [part for _, part in group]
        if kind == "quote":
            blocks.append(f"<blockquote>{_render_blocks(parts, depth + 1)}</blockquote>")
        elif kind == "heading":
            blocks.extend(_heading(line) for line in parts)
        elif kind == "bullet":
            items = "".join(f"<li>{_inline(item)}</li>" for item in parts)
            blocks.append(f"<ul>{items}</ul>")
        elif kind == "ordered":
            blocks.append(_ordered_list(parts))
        elif kind == "text":
            # DingTalk breaks the line on every "\n"; the trailing two spaces its doc
            # recommends are markdown's hard-break marker and must not show.
            body = "<br>".join(_inline(line.rstrip()) for line in parts)
            blocks.append(f"<p>{body}</p>")
    return "".join(blocks)


def _heading(line: str) -> str:
    match = _HEADING.fullmatch(line)
    assert match is not None  # _classify only calls a line a heading when it matches
    level = len(match[1])
    return f"<h{level}>{_inline(match[2])}</h{level}>"


def _ordered_list(lines: list[str]) -> str:
    matches = [_ORDERED.fullmatch(line) for line in lines]
    numbered = [(m[1], m[2]) for m in matches if m is not None]
    first = int(numbered[0][0])
    start = "" if first == 1 else f' start="{first}"'
    items = "".join(f"<li>{_inline(item)}</li>" for _, item in numbered)
    return f"<ol{start}>{items}</ol>"


def _inline(raw: str) -> str:
    """Render one line's inline markup; the raw text is escaped before anything else."""
    slots: list[str] = []

    def park(fragment: str) -> str:
        slots.append(fragment)
        return f"\x00{len(slots) - 1}\x00"

    def parked(render: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
        return lambda match: park(render(match))

    text = html.escape(raw.strip(), quote=True)
    text = _IMAGE.sub(parked(_image), text)
    text = _LINK.sub(parked(lambda m: _link(m, _emphasis(_fonts(m[1], park), park))), text)
    text = _emphasis(_fonts(text, park), park)

    def restore(fragment: str) -> str:
        return _SLOT.sub(lambda match: restore(slots[int(match[1])]), fragment)

    return restore(text)


def _emphasis(text: str, park: Callable[[str], str]) -> str:
    """Apply bold and italic; bold goes first and is parked so italic nests inside it."""
    text = _STRONG_EM.sub(lambda m: park(f"<strong><em>{m[1]}</em></strong>"), text)
    text = _STRONG.sub(lambda m: park(f"<strong>{_italic(m[1])}</strong>"), text)
    return _italic(text)


def _italic(text: str) -> str:
    return _EM.sub(lambda m: f"<em>{m[1]}</em>", text)


def _fonts(text: str, park: Callable[[str], str]) -> str:
    """Turn each closed ``<font>`` pair into a span, pairing tags as an HTML parser would
    (a close ends the latest open). DingTalk shows an unclosed tag as written (§2.2), so
    unpaired tags stay text. A loop with a stack, not recursion: input depth is bounded."""
    # Each frame: the opening tag as written, its attributes, the pieces inside it so far.
    frames: list[tuple[str, str, list[str]]] = [("", "", [])]
    position = 0
    for match in _FONT_TAG.finditer(text):
        frames[-1][2].append(text[position : match.start()])
        position = match.end()
        closing, attrs = match[1], match[2]
        if not closing and len(frames) <= _MAX_FONT_DEPTH:
            frames.append((match[0], attrs, []))
        elif closing and not attrs and len(frames) > 1:
            _, opened_attrs, pieces = frames.pop()
            inner = _emphasis("".join(pieces), park)
            frames[-1][2].append(park(f"{_font_open(opened_attrs)}{inner}</span>"))
        else:
            frames[-1][2].append(match[0])
    frames[-1][2].append(text[position:])
    while len(frames) > 1:  # never closed: the tag shows as written
        tag, _, pieces = frames.pop()
        frames[-1][2].extend([tag, *pieces])
    return "".join(frames[0][2])


def _font_open(attrs: str) -> str:
    """The opening span for a font tag's (escaped) attributes; ``size`` and ``face``, which
    DingTalk accepts, change nothing here [I]."""
    for match in _FONT_ATTR.finditer(attrs):
        if match[1].lower() != "color":
            continue
        unquoted = match[4]
        if unquoted is not None and _EVERYWHERE_COLOUR.fullmatch(unquoted):
            return f'<span class="md-font" style="color: {unquoted}">'
        return f'<span class="md-font" title="{_DESKTOP_ONLY_NOTE}">'
    return '<span class="md-font">'


# The helpers below receive already-escaped text: escaping turned every quote into an
# entity, so the captured URL is safe inside a double-quoted attribute as it is.


def _image(match: re.Match[str]) -> str:
    alt, url = match[1], match[2]
    if is_image_url(html.unescape(url)):
        return f'<img class="md-img" src="{url}" alt="{alt}" loading="lazy">'
    # A media id from /media/upload (e.g. "@lADO...") only means something inside
    # DingTalk; show it as a labelled box rather than a broken image.
    label = alt or "image"
    return (
        f'<span class="md-media" title="{label}">'
        f'<span class="md-media-label">{label}</span> '
        f'<span class="md-media-id">{url}</span></span>'
    )


def _link(match: re.Match[str], label: str) -> str:
    url = match[2]
    if is_safe_link(html.unescape(url)):
        return f'<a href="{url}" target="_blank" rel="noopener noreferrer">{label}</a>'
    return match[0]
