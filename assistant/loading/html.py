"""The HTML reader: the readable blocks of a page's main content, without scripts, styles and page chrome.

The page is walked iteratively with BeautifulSoup (on lxml), so arbitrarily deep markup cannot
overflow the stack; decoding the bytes is left to ``decoding``, like for plain text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from assistant.errors import LoadError
from assistant.loading.common import BLOCK_SEP, Limits, Parsed, normalize, short
from assistant.loading.decoding import decode_unicode, drop_stray_nuls

_HTML_DROP = ("script", "style", "noscript", "template", "nav", "footer", "header", "aside", "form", "svg")
_HTML_BLOCKS = frozenset(
    {
        *("address", "article", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl", "dt"),
        *("fieldset", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p"),
        *("section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"),
    }
)
_SPACES = re.compile(r"\s+")
_BR = "\x00"  # marks <br> inside a block; NUL cannot come from the page: its NUL bytes are dropped or refused


def read_html(data: bytes, label: str, limits: Limits) -> Parsed:
    """HTML: readable blocks of the main content, without scripts, styles and page chrome."""
    soup = _parse_html(data, label)
    page_title = _collapse(soup.title.get_text()) if soup.title else ""
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for tag in soup.find_all(attrs={"hidden": True}):
        tag.decompose()
    root = _html_root(soup)
    blocks = _html_blocks(root)
    if not blocks and root is not soup:
        blocks = _html_blocks(soup.body or soup)
    if not blocks:
        raise LoadError(label, "HTML page has no readable text (after removing scripts, navigation and forms)")
    heading = root.find("h1") or soup.find("h1")
    title = page_title or (_collapse(heading.get_text(" ")) if heading else "") or None
    return Parsed(BLOCK_SEP.join(blocks).rstrip(), {"format": "html"}, title=title)


def _parse_html(data: bytes, label: str) -> Any:
    """The parsed page: UTF-16/32 by byte-order mark, else UTF-8, else the page's declared charset.

    Stray NUL bytes are dropped (many mean binary data), so none reaches the text.
    """
    from bs4 import BeautifulSoup

    unicode = decode_unicode(data, label)
    markup: str | bytes
    if unicode is not None:
        markup, _ = drop_stray_nuls(unicode[0], label, "an HTML file", "HTML")
    else:
        data, _ = drop_stray_nuls(data, label, "an HTML file", "HTML")
        try:
            markup = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            markup = data  # let BeautifulSoup honour the page's declared charset
    try:
        return BeautifulSoup(markup, "lxml")
    except Exception as exc:  # lxml and bs4 raise assorted types on pathological markup
        raise LoadError(label, f"cannot parse the HTML ({short(exc)})") from None


def _html_root(soup: Any) -> Any:
    """<main>, else a single <article>, else <body>: where the page's own content lives."""
    main = soup.find("main")
    if main is not None:
        return main
    articles = soup.find_all("article")
    if len(articles) == 1:
        return articles[0]
    return soup.body or soup


def _html_blocks(root: Any) -> list[str]:
    """Texts of block-level elements in document order, walked iteratively (deep pages cannot overflow)."""
    from bs4 import CData, NavigableString, Tag

    blocks: list[str] = []
    buffer: list[str] = []
    flush_marker = object()

    def flush() -> None:
        text = _collapse("".join(buffer))
        buffer.clear()
        if text:
            blocks.append(text)

    stack: list[Any] = list(reversed(list(root.children)))
    while stack:
        node = stack.pop()
        if node is flush_marker:
            flush()
        elif isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):  # skips comments, doctypes, processing instructions
                buffer.append(str(node))
        elif isinstance(node, Tag):
            _visit_tag(node, stack, buffer, blocks, flush, flush_marker)
    flush()
    return blocks


def _visit_tag(
    node: Any, stack: list[Any], buffer: list[str], blocks: list[str], flush: Callable[[], None], marker: object
) -> None:
    """Handle one element: <br> breaks a line, <pre> keeps its layout, blocks are fenced by flushes."""
    if node.name == "br":
        buffer.append(_BR)
    elif node.name == "pre":
        flush()
        text = "\n".join(line.rstrip() for line in normalize(node.get_text()).split("\n")).strip("\n")
        if text.strip():
            blocks.append(text)
    elif node.name in _HTML_BLOCKS:
        flush()
        stack.append(marker)
        stack.extend(reversed(list(node.children)))
    else:
        stack.extend(reversed(list(node.children)))


def _collapse(text: str) -> str:
    """Collapse whitespace inside a block (source line wrapping is not structure), keeping <br> breaks."""
    lines = []
    for piece in text.split(_BR):
        line = _SPACES.sub(" ", piece).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)
