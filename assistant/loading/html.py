"""The HTML reader: the readable blocks of a page's main content, without scripts, styles and page chrome.

Where the main content is comes from trafilatura, which finds it among navigation, sidebars,
attachment lists and footers built of plain <div>s and tables, as government sites are: on the
pages of tests/data/html it keeps 95% precision where the page's own markup (<main>, <nav>...)
gave 72%, at the same recall (bench/html_extract.py). Its pick, as HTML, is then walked into
blocks like any page. When it finds too little to trust (short pages, unusual markup), the page is
read as before: the contents of <main> or a lone <article>, else of <body>, without <nav>,
<header>, <footer>, <aside> and forms.

Pages are walked iteratively with BeautifulSoup (on lxml), so arbitrarily deep markup cannot
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
    markup = _markup(data, label)
    soup = _parse_html(markup, label)
    page_title = _collapse(soup.title.get_text()) if soup.title else ""
    blocks = _main_content_blocks(markup)
    if blocks:
        title = page_title or _heading_text(soup.find("h1")) or None
        return Parsed(BLOCK_SEP.join(blocks).rstrip(), {"format": "html"}, title=title)
    return _marked_up_content(soup, label, page_title)


def _main_content_blocks(markup: str | bytes) -> list[str]:
    """The blocks of the main content trafilatura picks; none when its pick is too short to trust.

    Too short is under trafilatura's own MIN_EXTRACTED_SIZE (250 characters): below it, trafilatura
    itself distrusts its pick and falls back to dumping the page's text, while the page's markup
    reads such pages better.
    """
    import trafilatura
    from bs4 import BeautifulSoup
    from trafilatura.settings import DEFAULT_CONFIG

    try:
        picked = trafilatura.extract(markup, output_format="html", include_tables=True, include_comments=False)
    except Exception:  # hostile markup can make any parser raise: the page is then read by its markup
        return []
    if not picked:
        return []
    blocks = _html_blocks(BeautifulSoup(picked, "lxml"))
    trusted = sum(len(b) for b in blocks) >= DEFAULT_CONFIG.getint("DEFAULT", "MIN_EXTRACTED_SIZE")
    return blocks if trusted else []


def _marked_up_content(soup: Any, label: str, page_title: str) -> Parsed:
    """The page as its markup presents it: <main> or a lone <article>, else <body>, without the page chrome."""
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
    title = page_title or _heading_text(root.find("h1") or soup.find("h1")) or None
    return Parsed(BLOCK_SEP.join(blocks).rstrip(), {"format": "html"}, title=title)


def _markup(data: bytes, label: str) -> str | bytes:
    """The page as text: UTF-16/32 by byte-order mark, else UTF-8; else its bytes, for the parser to decode by
    the page's declared charset.

    Stray NUL bytes are dropped (many mean binary data), so none reaches the text.
    """
    unicode = decode_unicode(data, label)
    if unicode is not None:
        return drop_stray_nuls(unicode[0], label, "an HTML file", "HTML")[0]
    data, _ = drop_stray_nuls(data, label, "an HTML file", "HTML")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data


def _parse_html(markup: str | bytes, label: str) -> Any:
    """The parsed page (bytes are decoded by BeautifulSoup, honouring the page's declared charset)."""
    from bs4 import BeautifulSoup

    try:
        return BeautifulSoup(markup, "lxml")
    except Exception as exc:  # lxml and bs4 raise assorted types on pathological markup
        raise LoadError(label, f"cannot parse the HTML ({short(exc)})") from None


def _heading_text(heading: Any) -> str:
    return _collapse(heading.get_text(" ")) if heading else ""


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
