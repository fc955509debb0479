"""What a document is and when it is from: its date, year, kind and issuer, each with where it was read.

Policy questions are rarely about one document ("how did the growth target change since 2016?"), so
every stored document carries the facts that order and filter documents:

- ``date``: the date of the stored version, at the precision stated: ``2016`` is a date, and a month
  or a day is never invented. Read from the front matter, else the file name (``(2020-12-26)``,
  ``GWR_2023``) and the header or adoption lines of the text (``——2024年3月5日在第十四届全国人民代表大会
  第二次会议上``, a law's history lines); a more precise value of the same year refines a vaguer one.
- ``promulgated``, ``effective``, ``revised``: kept apart from ``date`` where the text states them
  (the sand-mining regulation: promulgated 2001, in force from 2002, revised 2023).
- ``year`` (an int, from the date), ``kind`` (one of ``KINDS``: front matter, else the words of the
  title such as 法/条例/规定/政府工作报告/讲话, else ``other``) and ``issuer`` when stated.

Each value records where it came from (``metadata["provenance"]``). A user's correction
(``metadata["corrections"]``) always wins, and is kept with the document, so re-indexing, which
annotates again from the stored text, keeps it. Nothing here touches the store: ``annotate`` is
a pure function of a Document, so ingestion, re-indexing and corrections all run the same rules.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assistant.documents import Document
from assistant.errors import InvalidMetadata

KINDS: tuple[str, ...] = ("law", "regulation", "work report", "speech", "commentary", "notice", "other")
CORRECTABLE: tuple[str, ...] = ("date", "kind", "issuer", "title", "promulgated", "effective")
DATE_FIELDS: tuple[str, ...] = ("date", "promulgated", "effective", "revised")

# Names users and front matter give kinds, lower-cased: exact matches first, then words they contain.
_KIND_NAMES: dict[str, str] = {
    "law": "law", "laws": "law", "act": "law", "statute": "law", "法": "law", "法律": "law",
    "regulation": "regulation", "regulations": "regulation", "rules": "regulation", "provisions": "regulation",
    "measures": "regulation", "法规": "regulation", "行政法规": "regulation", "地方性法规": "regulation",
    "条例": "regulation", "规定": "regulation", "办法": "regulation", "细则": "regulation",
    "work report": "work report", "government work report": "work report", "work-report": "work report",
    "report on the work of the government": "work report", "政府工作报告": "work report",
    "speech": "speech", "remarks": "speech", "address": "speech", "讲话": "speech",
    "commentary": "commentary", "editorial": "commentary", "评论": "commentary", "社论": "commentary",
    "notice": "notice", "circular": "notice", "announcement": "notice", "通知": "notice", "公告": "notice",
    "other": "other", "其他": "other",
}
_KIND_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"work\s+report|work\s+of\s+the\s+government|政府工作报告", re.I), "work report"),
    (re.compile(r"\bregulations?\b|\bprovisions\b|\brules\b|\bmeasures\b|条例|规定|办法|细则|法规", re.I),
     "regulation"),
    (re.compile(r"\blaws?\b|\bact\b|法律", re.I), "law"),
    (re.compile(r"\bspeech\b|\bremarks\b|讲话|致辞", re.I), "speech"),
    (re.compile(r"\bcommentary\b|\beditorial\b|评论|社论", re.I), "commentary"),
    (re.compile(r"\bnotice\b|\bcircular\b|通知|公告|通告", re.I), "notice"),
)

# --- dates -------------------------------------------------------------------------------------

_ISO = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?\s*$")
_ZH_DATE = re.compile(r"^\s*(\d{4})\s*年(?:\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?)?\s*$")
_MONTHS = {name: number for number, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
     ("november", "nov"), ("december", "dec")], 1) for name in names}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_EN_DATE = re.compile(
    rf"\b(?:({_MONTH})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})|(\d{{1,2}})\s+({_MONTH})\.?,?\s+(\d{{4}}))\b", re.I)
_EN_DATE_ONLY = re.compile(rf"^\s*(?:{_EN_DATE.pattern})\s*$", re.I)


def parse_date(value: object) -> str:
    """A date as ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, keeping the precision it was given at.

    Accepts 2024, "2024", "2024-03", "2024-03-05", "2024/3/5", "2024年3月5日", "March 5, 2024".
    Raises InvalidMetadata (naming the accepted forms) for anything else or a day that does not exist.
    """
    text = str(value).strip().translate(_FULL_WIDTH_DIGITS) if value is not None else ""
    text = _TIME_OF_DAY.sub("", text)  # front matter's "2024-03-05 10:00" (a YAML datetime) is that day
    if isinstance(value, bool) or not text:
        raise InvalidMetadata(f"not a date: {value!r}; write it as 2024, 2024-03 or 2024-03-05")
    match = _ISO.match(text) or _ZH_DATE.match(text)
    if match:
        year, month, day = match.group(1), match.group(2), match.group(3)
    else:
        english = _EN_DATE_ONLY.match(text)
        if not english:
            raise InvalidMetadata(f"not a date: {value!r}; write it as 2024, 2024-03 or 2024-03-05")
        month_name, day, year = (english.group(1), english.group(2), english.group(3)) if english.group(1) \
            else (english.group(5), english.group(4), english.group(6))
        month = str(_MONTHS[month_name.lower()])
    return _checked(int(year), int(month) if month else None, int(day) if day else None, value)


_TIME_OF_DAY = re.compile(r"(?<=^\d{4}-\d{2}-\d{2})[T ]\d{1,2}:\d{2}.*$")
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９－／．", "0123456789-/.")


def _checked(year: int, month: int | None, day: int | None, given: object) -> str:
    """The normalised date, or InvalidMetadata for a month or day the calendar does not have."""
    if not 1000 <= year <= 2999:
        raise InvalidMetadata(f"not a date: {given!r}; the year must have four digits")
    try:
        dt.date(year, month or 1, day or 1)
    except ValueError:
        raise InvalidMetadata(f"not a date: {given!r}; no such month or day") from None
    if month is None:
        return f"{year:04d}"
    return f"{year:04d}-{month:02d}" if day is None else f"{year:04d}-{month:02d}-{day:02d}"


def date_bounds(date: str) -> tuple[int, int]:
    """The first and last day a date at its precision may mean, as YYYYMMDD ints (2016 → 20160101, 20161231).

    Comparing bounds, never a made-up day, is how a filter treats a year-only date: "since 2016-06"
    keeps a document dated 2016, since it may be from June or later.
    """
    parts = [int(p) for p in parse_date(date).split("-")]
    year = parts[0]
    if len(parts) == 1:
        return year * 10000 + 101, year * 10000 + 1231
    month = parts[1]
    if len(parts) == 2:
        last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
        return year * 10000 + month * 100 + 1, year * 10000 + month * 100 + last
    return (year * 10000 + month * 100 + parts[2],) * 2


def parse_kind(value: object) -> str:
    """One of KINDS for a kind as users write it ("Work Report", "regulations", "条例"); InvalidMetadata else."""
    kind = _kind_of(str(value or ""))
    if kind is None:
        raise InvalidMetadata(f"unknown kind {value!r}; use one of: {', '.join(KINDS)}")
    return kind


def _kind_of(value: str) -> str | None:
    key = " ".join(value.strip().lower().replace("_", " ").split())
    return _KIND_NAMES.get(key)


# --- what the text says -----------------------------------------------------------------------

_HEADER_CHARS = 3000  # the header and adoption lines stand at the top of a text
_INFO_END = "<!-- INFO END -->"
_DATED_LINE = re.compile(r"^[\s—–\-（(]*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(.*)$")
_DELIVERED = re.compile(r"^\s*在(.{2,40}?)(?:会议|大会)上")
_ADOPTED = re.compile(r"通过|公布|发布|批准|颁布|印发")
_REVISED = re.compile(r"修订|修正|修改")
_EFFECTIVE_ZH = re.compile(
    r"本(?:法|条例|规定|办法|细则|决定|规则)自(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日起施行")
_EFFECTIVE_EN = re.compile(
    rf"(?:shall|will)\s+(?:come|enter)\s+into\s+(?:force|effect)\s+(?:on|as\s+of|from)\s+({_EN_DATE.pattern})", re.I)
_EN_HEADER = re.compile(r"\b(?:adopted|promulgated|delivered|issued|dated|revised|amended|approved)\b", re.I)
_ORGANS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"全国人民代表大会常务委员会"), "全国人民代表大会常务委员会"),
    (re.compile(r"([\u4e00-\u9fff]{2,8}?[省市区])第[一二三四五六七八九十]+届人民代表大会常务委员会"),
     "{0}人民代表大会常务委员会"),
    (re.compile(r"全国人民代表大会"), "全国人民代表大会"),
    (re.compile(r"国务院"), "国务院"),
    (re.compile(r"([\u4e00-\u9fff]{2,10}?部)(?:发布|公布|印发)"), "{0}"),
)
_SPEAKS_FOR = re.compile(r"我代表(国务院|[\u4e00-\u9fff]{2,12}?(?:政府|委员会))")
_FILE_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.年](\d{1,2})[-_.月](\d{1,2})(?!\d)")
_LONE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")


@dataclass(frozen=True)
class Found:
    """A value and where it was read: "front matter", "file name", "text", "title" or "corrected"."""

    value: str
    origin: str
    evidence: str = ""

    def provenance(self) -> dict[str, str]:
        return {"from": self.origin, "evidence": self.evidence} if self.evidence else {"from": self.origin}


@dataclass(frozen=True)
class _Dated:
    date: str
    line: str
    rest: str  # what follows the date on its line


def _dated_lines(text: str) -> list[_Dated]:
    """The dated lines at the top of a text (a law's adoption and amendment history, a report's header)."""
    head = text[:_HEADER_CHARS]
    head = head[:head.find(_INFO_END)] if _INFO_END in head else head
    found = []
    for line in head.splitlines():
        match = _DATED_LINE.match(line)
        if match and len(line.strip()) <= 200:
            try:
                date = _checked(int(match.group(1)), int(match.group(2)), int(match.group(3)), line)
            except InvalidMetadata:
                continue
            found.append(_Dated(date, line.strip(), match.group(4)))
    return found


def _english_header_date(text: str) -> Found | None:
    """A date on a short header line of an English text ("Adopted on March 5, 2024", or the date alone)."""
    lines = [line.strip() for line in text[:_HEADER_CHARS].splitlines() if line.strip()][:15]
    for line in lines:
        match = _EN_DATE.search(line)
        if match and len(line) <= 120 and (_EN_HEADER.search(line) or _EN_DATE_ONLY.match(line)):
            try:
                return Found(parse_date(match.group(0)), "text", line)
            except InvalidMetadata:
                continue
    return None


def _issuer_of(line: str) -> str | None:
    for pattern, name in _ORGANS:
        match = pattern.search(line)
        if match:
            return name.format(*match.groups())
    return None


@dataclass(frozen=True)
class _TextFacts:
    """What the top and the end of a text state: its version date, promulgation, revision, entry into force, issuer."""

    date: Found | None = None
    promulgated: Found | None = None
    revised: Found | None = None
    effective: Found | None = None
    issuer: Found | None = None


def _text_facts(text: str, title: str) -> _TextFacts:
    lines = _dated_lines(text)
    delivered = next((d for d in lines if _DELIVERED.match(d.rest)), None)
    history = [d for d in lines
               if not _DELIVERED.match(d.rest) and (_ADOPTED.search(d.rest) or _REVISED.search(d.rest))]
    date = promulgated = revised = issuer = None
    if delivered is not None:
        date = Found(delivered.date, "text", delivered.line)
    elif history:
        date = Found(max(history, key=lambda d: d.date).date, "text", max(history, key=lambda d: d.date).line)
    elif not lines:
        date = _english_header_date(text)
    if history:
        first = history[0]
        promulgated = Found(first.date, "text", first.line)
        revisions = [d for d in history[1:] if _REVISED.search(d.rest)]
        if revisions:
            revised = Found(revisions[-1].date, "text", revisions[-1].line)
        organ = _issuer_of(first.rest)
        if organ:
            issuer = Found(organ, "text", first.line)
    if issuer is None:
        speaker = _SPEAKS_FOR.search(text[:_HEADER_CHARS])
        if speaker:
            issuer = Found(speaker.group(1), "text", speaker.group(0))
        elif "国务院" in title and "政府工作报告" in title:
            issuer = Found("国务院", "title", title)
    return _TextFacts(date, promulgated, revised, _effective(text), issuer)


def _effective(text: str) -> Found | None:
    """The date the text says it takes effect ("本法自2021年3月1日起施行"; its last such sentence)."""
    matches = list(_EFFECTIVE_ZH.finditer(text))
    if matches:
        last = matches[-1]
        try:
            return Found(_checked(int(last.group(1)), int(last.group(2)), int(last.group(3)), last.group(0)),
                         "text", last.group(0))
        except InvalidMetadata:
            return None
    english = list(_EFFECTIVE_EN.finditer(text))
    if english:
        try:
            return Found(parse_date(english[-1].group(1)), "text", english[-1].group(0))
        except InvalidMetadata:
            return None
    return None


def _file_date(source: str, today: dt.date) -> Found | None:
    """A date in the file name: a whole date ("(2020-12-26)") or one lone year ("GWR_2023"), never a future one."""
    name = Path(source).name
    whole = _FILE_DATE.search(name)
    if whole:
        try:
            date = _checked(int(whole.group(1)), int(whole.group(2)), int(whole.group(3)), name)
        except InvalidMetadata:
            date = ""
        if date and date <= today.isoformat():
            return Found(date, "file name", name)
    years = {int(y) for y in _LONE_YEAR.findall(name)}
    if len(years) == 1 and (year := years.pop()) <= today.year:
        return Found(f"{year:04d}", "file name", name)
    return None


def _title_year(title: str, today: dt.date) -> Found | None:
    years = {int(y) for y in _LONE_YEAR.findall(title)}
    if len(years) == 1 and (year := years.pop()) <= today.year:
        return Found(f"{year:04d}", "title", title)
    return None


def _refined(chosen: Found, others: Iterable[Found | None]) -> Found:
    """``chosen``, or a more precise date from another source that agrees with it (the same year or month)."""
    best = chosen
    for other in others:
        if other is not None and len(other.value) > len(best.value) and other.value.startswith(best.value):
            best = other
    return best


def kind_from_title(title: str) -> Found | None:
    """The kind a title's words name, or None: a Chinese title by its last word (…法 a law, …条例/规定/办法
    a regulation, …通知 a notice) or a word it holds (政府工作报告, 讲话), an English one by its kind word."""
    main = re.sub(r"[（(][^）)]*[）)]", "", title).strip(" 《》\"'")
    if not re.search(r"[A-Za-z]{3}", main):
        for pattern, kind in _ZH_TITLE_KINDS:
            if pattern.search(main):
                return Found(kind, "title", title)
        return None
    return next((Found(kind, "title", title) for pattern, kind in _KIND_WORDS if pattern.search(main)), None)


_ZH_TITLE_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"政府工作报告"), "work report"),
    (re.compile(r"(?:条例|规定|办法|细则|规则)$"), "regulation"),
    (re.compile(r"(?<!方|做|想|看|说|办)法$"), "law"),
    (re.compile(r"讲话|致辞|发言"), "speech"),
    (re.compile(r"(?:通知|公告|通告)$"), "notice"),
    (re.compile(r"评论|社论"), "commentary"),
)


# --- annotation -------------------------------------------------------------------------------


def annotate(document: Document, *, today: dt.date | None = None) -> Document:
    """The document with its date, year, kind, issuer and dates of promulgation, revision and entry into force.

    Front matter wins over what is read from the file name and the text, and the user's corrections
    (``metadata["corrections"]``) over everything. Values read by these rules are read again each
    time (re-indexing applies improved rules), front matter and corrections are kept as given.
    A front matter date that is not a date is left out, with a warning saying so.
    """
    today = today or dt.date.today()
    meta = dict(document.metadata)
    corrections = dict(meta.get("corrections") or {})
    old = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    given = {key: meta[key] for key in (*DATE_FIELDS, "kind", "issuer", "year")
             if key in meta and old.get(key, {}).get("from", "front matter") == "front matter"}
    for key in (*DATE_FIELDS, "kind", "issuer", "year"):
        meta.pop(key, None)
    title = str(corrections.get("title") or document.title)
    warnings = list(meta.get("warnings") or [])  # an unreadable front matter value is dropped, its warning kept
    front = _front_matter(given, warnings)
    facts = _text_facts(document.text, title)
    found: dict[str, Found] = {}
    date = front.get("date") or _file_date(document.source, today) or facts.date or _title_year(title, today)
    if date is not None:
        found["date"] = date if date.origin == "front matter" else \
            _refined(date, (_file_date(document.source, today), facts.date))
    for key, value in (("promulgated", facts.promulgated), ("revised", facts.revised), ("effective", facts.effective),
                       ("issuer", facts.issuer)):
        chosen = front.get(key) or value
        if chosen is not None:
            found[key] = chosen
    found["kind"] = front.get("kind") or kind_from_title(title) or Found("other", "default")
    for key, value in corrections.items():
        if key in CORRECTABLE and key != "title":
            found[key] = Found(str(value), "corrected")
    provenance = {key: f.provenance() for key, f in found.items()}
    values: dict[str, Any] = {key: f.value for key, f in found.items()}
    if "date" in values:
        values["year"] = int(values["date"][:4])
        provenance["year"] = {"from": "date"}
    if "title" in corrections:
        provenance["title"] = {"from": "corrected"}
    meta.update(values, provenance=provenance)
    if warnings:
        meta["warnings"] = list(dict.fromkeys(warnings))
    return replace(document, title=title, metadata=meta)


def _front_matter(given: Mapping[str, Any], warnings: list[str]) -> dict[str, Found]:
    """The front matter's dates, kind and issuer as Found values; an unreadable date or kind is warned about."""
    found: dict[str, Found] = {}
    for key in DATE_FIELDS:
        if key in given and given[key] not in (None, ""):
            try:
                found[key] = Found(parse_date(given[key]), "front matter")
            except InvalidMetadata as exc:
                warnings.append(f"front matter {key} {given[key]!r} was left out: {exc}")
    if "date" not in found and given.get("year") not in (None, ""):
        try:
            found["date"] = Found(parse_date(given["year"]), "front matter")
        except InvalidMetadata as exc:
            warnings.append(f"front matter year {given['year']!r} was left out: {exc}")
    if given.get("kind") not in (None, ""):
        kind = _kind_of(str(given["kind"])) or _kind_by_words(str(given["kind"]))
        if kind is None:
            warnings.append(f"front matter kind {given['kind']!r} is not one of {', '.join(KINDS)}")
        else:
            found["kind"] = Found(kind, "front matter", str(given["kind"]) if kind != given["kind"] else "")
    if given.get("issuer") not in (None, ""):
        found["issuer"] = Found(" ".join(str(given["issuer"]).split()), "front matter")
    return found


def _kind_by_words(value: str) -> str | None:
    """A kind for a longer description ("State Council administrative regulation")."""
    return next((kind for pattern, kind in _KIND_WORDS if pattern.search(value)), None)


def corrected(document: Document, **changes: str | None) -> Document:
    """The document with the user's corrections applied (and kept, so re-indexing keeps them).

    ``changes`` maps fields of CORRECTABLE to a value, or to None to drop an earlier correction
    (the value read from the document comes back). Every value is checked before anything
    changes: an unknown field, a date that is not a date or an unknown kind raises InvalidMetadata.
    """
    unknown = sorted(set(changes) - set(CORRECTABLE))
    if unknown:
        raise InvalidMetadata(f"cannot correct {', '.join(unknown)}; correctable: {', '.join(CORRECTABLE)}")
    corrections = dict(document.metadata.get("corrections") or {})
    title = document.title
    for key, value in changes.items():
        if value is None:
            if key == "title" and "title" in corrections:
                title = str(document.metadata.get("original_title") or title)
            corrections.pop(key, None)
            continue
        corrections[key] = _checked_value(key, value)
    meta = dict(document.metadata, corrections=corrections)
    if "title" in corrections and "original_title" not in meta:
        meta["original_title"] = document.title
    if "title" not in corrections:
        meta.pop("original_title", None)
    if not corrections:
        meta.pop("corrections")
    return annotate(replace(document, title=title, metadata=meta))


def _checked_value(key: str, value: str) -> str:
    if key in DATE_FIELDS:
        return parse_date(value)
    if key == "kind":
        return parse_kind(value)
    cleaned = " ".join(str(value).split())
    if not cleaned:
        raise InvalidMetadata(f"an empty {key} cannot be a correction; use --reset {key} to drop one")
    return cleaned


def chunk_fields(metadata: Mapping[str, Any]) -> dict[str, str | int]:
    """The document facts every chunk carries, for Chroma ``where`` filters: kind, issuer, date, year and
    the date's first and last possible day as YYYYMMDD ints (``date_start``, ``date_end``) for ranges."""
    fields: dict[str, str | int] = {}
    for key in ("kind", "issuer", "date"):
        value = metadata.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            fields[key] = str(value)
    if "date" in fields:
        try:
            fields["date_start"], fields["date_end"] = date_bounds(str(fields["date"]))
            fields["year"] = int(str(fields["date"])[:4])
        except InvalidMetadata:  # a store written before dates were checked may hold anything
            pass
    return fields


# --- filters -------------------------------------------------------------------------------------

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Filters:
    """Which documents a question or search may use: a date range, kinds, an issuer and a language.

    Documents are compared by their registry metadata, so a filter means the same for ``retrieve``,
    ``ask``, the across-documents answer and the LangChain retriever. A date range keeps a document
    whose date may fall in it at the date's precision (a document dated 2016 passes "until 2016-03");
    a document of unknown date never passes a date range.
    """

    since: str | None = None
    until: str | None = None
    kinds: tuple[str, ...] = ()
    issuer: str | None = None
    language: str | None = None

    @classmethod
    def of(cls, *, since: object = None, until: object = None, kind: str | Sequence[str] | None = None,
           issuer: str | None = None, language: str | None = None) -> Filters:
        """Checked filters from user input; InvalidMetadata names the value that cannot be read."""
        start = parse_date(since) if since not in (None, "") else None
        end = parse_date(until) if until not in (None, "") else None
        if start and end and date_bounds(start)[0] > date_bounds(end)[1]:
            raise InvalidMetadata(f"the range is empty: since {start} is after until {end}")
        kinds = (kind,) if isinstance(kind, str) else tuple(kind or ())
        lang = (language or "").strip().lower() or None
        if lang is not None and lang not in LANGUAGES:
            raise InvalidMetadata(f"unknown language {language!r}; use one of: {', '.join(LANGUAGES)}")
        who = " ".join((issuer or "").split()) or None
        return cls(start, end, tuple(dict.fromkeys(parse_kind(k) for k in kinds if str(k).strip())), who, lang)

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.kinds or self.issuer or self.language)

    def admits(self, metadata: Mapping[str, Any], language: str) -> bool:
        """Whether a document of this metadata and language passes every filter."""
        if self.language and language != self.language:
            return False
        if self.kinds and metadata.get("kind") not in self.kinds:
            return False
        if self.issuer and self.issuer.lower() not in str(metadata.get("issuer") or "").lower():
            return False
        if self.since or self.until:
            try:
                first, last = date_bounds(str(metadata.get("date") or ""))
            except InvalidMetadata:
                return False
            if self.since and last < date_bounds(self.since)[0]:
                return False
            if self.until and first > date_bounds(self.until)[1]:
                return False
        return True

    def describe(self) -> str:
        """The filters in words, for messages ("since 2020, until 2024, kind law")."""
        parts = [f"since {self.since}" if self.since else "", f"until {self.until}" if self.until else "",
                 f"kind {' or '.join(self.kinds)}" if self.kinds else "",
                 f"issuer {self.issuer}" if self.issuer else "", f"language {self.language}" if self.language else ""]
        return ", ".join(p for p in parts if p)
