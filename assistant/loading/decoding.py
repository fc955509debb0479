"""Bytes to str for the formats that are text: plain text and markdown (``text``) and HTML (``html``).

Encodings are where user files go wrong most quietly (GBK saved as .txt, UTF-16 from Windows
tools, NUL bytes from a broken editor), so what is decoded, what is guessed and what is refused
is decided here, once, for both readers.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, AnyStr

from assistant.errors import LoadError
from assistant.loading.common import normalize
from assistant.text import detect_language

# Unicode's Cc category (C0, DEL, C1) without tab, line feed, form feed and carriage return. A class
# for the regex engine: counting by unicodedata.category took 3.3 s on a 10 MB file, this ~0.05 s.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MAX_NUL_SHARE = 0.01  # more NUL bytes than this share of a text file means binary data, not stray NULs
_UTF16_MIN_NUL_SHARE = 0.2  # UTF-16 text without BOM: this share of 2-byte units holds a zero byte on one side


def _control_count(text: str) -> int:
    return sum(1 for _ in _CONTROL.finditer(text))


def decode_text(data: bytes, label: str, suffix: str) -> tuple[str, dict[str, Any]]:
    """Decode a plain-text file: (text, metadata saying how), or a LoadError saying what to do.

    UTF-16/32 are decoded when a byte-order mark (or, for UTF-16, the telltale zero bytes of
    mostly-ASCII text) says so. Otherwise the text is UTF-8, falling back to GB18030 only for
    text that is clearly Chinese: other legacy encodings are refused rather than guessed, since
    a wrong guess would index mojibake. A few stray NUL bytes are dropped; more mean binary data.
    """
    unicode = decode_unicode(data, label)
    if unicode is not None:
        text, removed = drop_stray_nuls(unicode[0], label, "a text file", suffix)
        encoding = unicode[1]
    else:
        data, removed = drop_stray_nuls(data, label, "a text file", suffix)
        try:
            text, encoding = data.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError as exc:
            text, encoding = _decode_chinese(data, label, exc), "gb18030"
    text = normalize(text)
    if text and _control_count(text) > 0.1 * len(text):
        raise LoadError(label, f"binary data in a text file (control characters); is it really {suffix}?")
    metadata: dict[str, Any] = {"encoding": encoding}
    if removed:
        metadata["nul_bytes_removed"] = removed
    return text, metadata


_UNICODE_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32"),  # before UTF-16 LE, whose mark it starts with
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def decode_unicode(data: bytes, label: str) -> tuple[str, str] | None:
    """(text, encoding) for UTF-16/UTF-32 data, None for anything else (UTF-8 and legacy encodings).

    With a byte-order mark the file says what it is, so invalid UTF-16 (odd length, lone
    surrogate) is a LoadError rather than text with holes. Without one, UTF-16 is only a
    guess from the zero bytes; a guess that does not decode cleanly is dropped, and the NUL
    check that follows then refuses the file as binary, hinting at UTF-16.
    """
    for bom, codec in _UNICODE_BOMS:
        if data.startswith(bom):
            if codec == "utf-32" and len(data) % 4:
                continue  # a UTF-16 LE file whose first character is U+0000, or garbage: try UTF-16
            return _decode_strict(data, codec, label)
    guessed = _sniff_utf16(data)
    if guessed is None or len(data) % 2:
        return None  # a guess that cannot hold: treated as 8-bit data (whose NULs mean binary)
    try:
        text = data.decode(guessed)
    except UnicodeDecodeError:
        return None
    return (text, guessed) if _control_count(text) <= 0.1 * len(text) else None


def _decode_strict(data: bytes, codec: str, label: str) -> tuple[str, str]:
    """Decode UTF-16/32 that has a byte-order mark strictly, naming the problem (odd length, bad surrogate)."""
    unit = 4 if codec == "utf-32" else 2
    name = codec.upper()
    if len(data) % unit:
        reason = f"the file is marked as {name} but its length is not a whole number of characters (truncated?)"
        raise LoadError(label, f"{reason}; save it as UTF-8")
    try:
        return data.decode(codec), codec
    except UnicodeDecodeError as exc:
        reason = f"invalid {name}: {exc.reason} at byte {exc.start}; save it as UTF-8"
        raise LoadError(label, reason) from None


def _sniff_utf16(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when zero bytes fill one side of many 2-byte units and almost never the other.

    That pattern is what ASCII-heavy UTF-16 looks like; random binary data has zeros on both sides.
    """
    units = len(data) // 2
    if b"\x00" not in data:  # the common case, without copying the data twice
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if units and odd >= _UTF16_MIN_NUL_SHARE * units and even * 8 <= odd:
        return "utf-16-le"
    if units and even >= _UTF16_MIN_NUL_SHARE * units and odd * 8 <= even:
        return "utf-16-be"
    return None


def _looks_like_utf16(data: bytes) -> bool:
    """A weaker hint than _sniff_utf16, only used to word an error: zeros sit on one side of the units."""
    even, odd = data[0::2].count(0), data[1::2].count(0)
    return max(even, odd) >= 2 and min(even, odd) * 8 <= max(even, odd)


def drop_stray_nuls(content: AnyStr, label: str, kind: str, expected: str) -> tuple[AnyStr, int]:
    """``content`` without NULs when they are a few strays (an editor glitch); refused when they are many.

    Works on raw bytes and on text decoded from UTF-16/32 (where NUL is a character). NUL never
    reaches the stored text: SQLite, Chroma and browsers all mishandle it.
    """
    nul = b"\x00" if isinstance(content, bytes) else "\x00"
    count = content.count(nul)  # type: ignore[arg-type]
    if not count:
        return content, 0
    if count > _MAX_NUL_SHARE * len(content):
        utf16 = isinstance(content, bytes) and _looks_like_utf16(content)
        hint = " (if it is UTF-16 text without a byte-order mark, save it as UTF-8)" if utf16 else ""
        raise LoadError(label, f"binary data in {kind} (NUL bytes); is it really {expected}?{hint}")
    return content.replace(nul, content[:0]), count  # type: ignore[arg-type]


def _decode_chinese(data: bytes, label: str, utf8_error: UnicodeDecodeError) -> str:
    """GB18030 text, or a LoadError pointing at the first byte that is not UTF-8."""
    bad = data[utf8_error.start]
    reason = f"not valid UTF-8 (invalid byte 0x{bad:02x} at offset {utf8_error.start}); save it as UTF-8"
    try:
        text = normalize(data.decode("gb18030"))
    except UnicodeDecodeError:
        raise LoadError(label, reason) from None
    strange_controls = any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text)
    if strange_controls or detect_language(text) != "zh":
        raise LoadError(label, reason)
    return text
