"""A conversation exported as Markdown or as a Word document, its citations numbered as footnotes.

Each answer's markers are renumbered across the whole conversation, so footnote n is one source
(title, article or paragraph, page, source file or URL) with the exact quote it supports. The
DOCX has real Word footnotes (python-docx has no API for them, so the footnotes part is added
here); what the answers say is copied verbatim, never re-worded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import docx
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.opc.packuri import PackURI
from docx.opc.part import XmlPart
from docx.oxml import parse_xml
from docx.oxml.ns import qn

from assistant.documents import Citation
from assistant.web.conversation import Turn
from assistant.web.i18n import text
from assistant.web.render import display_source

_MARKER = re.compile(r"\[(\d{1,3})\]")
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_FOOTNOTES_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


def note_text(citation: Citation) -> str:
    """One footnote: where the quote stands, and the quote itself."""
    passage = citation.passage
    where = [passage.cite()]
    if passage.page is not None and f"p. {passage.page}" not in where[0]:
        where.append(f"p. {passage.page}")
    source = display_source(passage.source)
    if source:
        where.append(source)
    return f"{', '.join(where)}: “{citation.quote}”"


def numbered(turns: Sequence[Turn]) -> list[tuple[Turn, str, dict[int, str]]]:
    """Each turn with its answer text renumbered across the conversation, and the notes its markers point to."""
    rows: list[tuple[Turn, str, dict[int, str]]] = []
    count = 0
    for turn in turns:
        answer = turn.answer
        if answer is None:
            rows.append((turn, turn.error or turn.partial, {}))
            continue
        by_marker: dict[int, list[Citation]] = {}
        for citation in answer.citations:
            by_marker.setdefault(citation.marker, []).append(citation)
        renumber = {marker: count + i for i, marker in enumerate(sorted(by_marker), 1)}
        count += len(renumber)
        body = _renumbered(answer.text, renumber)
        notes = {renumber[m]: " · ".join(note_text(c) for c in by_marker[m]) for m in sorted(by_marker)}
        rows.append((turn, body, notes))
    return rows


def _renumbered(body: str, numbers: dict[int, int], form: str = "[{}]") -> str:
    """``body`` with each known marker [n] written as ``form`` of its new number; others left as they are."""
    return _MARKER.sub(lambda m: form.format(numbers[int(m.group(1))]) if int(m.group(1)) in numbers
                       else m.group(0), body)


def to_markdown(turns: Sequence[Turn], ui: str) -> str:
    """The conversation as Markdown, citations as footnotes (``[^n]``) after each answer."""
    lines = [f"# {text(ui, 'export_heading')}", ""]
    for turn, body, notes in numbered(turns):
        shown = _renumbered(body, {n: n for n in notes}, "[^{}]")
        lines += [f"**{text(ui, 'export_question')}:** {turn.question}", "",
                  f"**{text(ui, 'export_answer')}:** {shown}", ""]
        lines += [f"[^{number}]: {note}" for number, note in sorted(notes.items())]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_docx(turns: Sequence[Turn], ui: str, path: Path) -> Path:
    """The conversation as a Word document whose citation markers are Word footnotes."""
    document = docx.Document()
    document.add_heading(text(ui, "export_heading"), level=1)
    footnotes = _footnotes_part(document)
    for turn, body, notes in numbered(turns):
        question = document.add_paragraph()
        question.add_run(f"{text(ui, 'export_question')}: ").bold = True
        question.add_run(turn.question)
        answer = document.add_paragraph()
        answer.add_run(f"{text(ui, 'export_answer')}: ").bold = True
        cursor = 0
        for match in _MARKER.finditer(body):
            answer.add_run(body[cursor:match.start()])
            number = int(match.group(1))
            if number in notes:
                _add_footnote(answer, footnotes, number, notes[number])
            else:
                answer.add_run(match.group(0))
            cursor = match.end()
        answer.add_run(body[cursor:])
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def _footnotes_part(document: docx.document.Document) -> XmlPart:
    """The footnotes part with Word's two required separator notes, related from the main document."""
    xml = (f'<w:footnotes xmlns:w="{_W}">'
           '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
           '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r>'
           "</w:p></w:footnote></w:footnotes>")
    main = document.part
    part = XmlPart(PackURI("/word/footnotes.xml"), _FOOTNOTES_TYPE, parse_xml(xml), main.package)
    main.relate_to(part, RELATIONSHIP_TYPE.FOOTNOTES)
    return part


def _add_footnote(paragraph: docx.text.paragraph.Paragraph, part: XmlPart, number: int, note: str) -> None:
    """A superscript reference in ``paragraph`` and footnote ``number`` holding ``note``."""
    run = paragraph.add_run()
    run.font.superscript = True
    reference = parse_xml(f'<w:footnoteReference xmlns:w="{_W}" w:id="{number}"/>')
    run._r.append(reference)  # python-docx has no footnote API
    footnote = parse_xml(
        f'<w:footnote xmlns:w="{_W}" w:id="{number}"><w:p><w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr>'
        '<w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> </w:t></w:r></w:p></w:footnote>')
    text_run = footnote.find(f".//{qn('w:t')}")
    text_run.text = f" {note}"
    part.element.append(footnote)
