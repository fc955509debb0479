"""The web chat in a real browser (Playwright driving Chromium) against the real app and a real store.

Each browser test starts from the page as a user sees it and does what a user does: clicks an
example, clicks a citation marker, uploads files, deletes with confirmation, signs in. The pure
rendering helpers get a few fast tests of their own (escaping, highlighting), without a browser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import (
    GDP_TARGETS,
    JOB_TARGETS,
    REPORTS,
    ROOT,
    dated_reports,
    hold_in_other_process,
    remove_by_source,
    require_marker,
    running_app,
)
from playwright.sync_api import Browser, FilePayload, Locator, Page, expect, sync_playwright
from test_web_api import assert_nothing_escaped, read_only_app, snapshot

from assistant.across import rows_from_csv, rows_from_markdown
from assistant.documents import Answer, Citation, Passage
from assistant.embedding import Embedder
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.web import (
    READ_ONLY_NOTE,
    Turn,
    highlight_span,
    highlight_spans,
    history_of,
    parse_admins,
    parse_auth,
    render_answer,
    render_documents,
    safe_source_name,
)
from assistant.web.handlers import WebApp, document_filters
from assistant.web.i18n import text
from tests.servers import serving, silent_server

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT = 60_000  # ms; the first answer loads the answering stack
EN_QUESTION = "By what year will the model city be built?"
ZH_QUESTION = "长江河道采砂实行什么制度？"
REFUSAL_BADGE = text("en", "badge_refused")
CJK = re.compile(r"[\u4e00-\u9fff]")
HOSTILE_TITLE = '<img src=x onerror="window.__xss=5"> Hostileville notice'
HOSTILE = (
    "---\n"
    f"title: '{HOSTILE_TITLE}'\n"
    "issuer: '<iframe srcdoc=\"<script>parent.__xss=6</script>\"></iframe> office'\n"
    "---\n"
    "# Hostileville <script>window.__xss=1</script> notice\n\n"
    "The Hostileville bridge toll is 7 yuan per car <script>window.__xss=1</script> "
    "<img src=x onerror=\"window.__xss=2\"> <a href=\"javascript:window.__xss=3\">click</a> "
    "[click](javascript:window.__xss=4) from 2031.\n\n"
    "The Hostileville ferry fare is 3 yuan per person ![x](https://attacker.invalid/pixel.png) "
    "<svg onload=\"window.__xss=7\"></svg> <iframe srcdoc=\"<script>parent.__xss=8</script>\"></iframe> from 2032.\n"
)
# Each piece must reach the page as literal text, never as markup; grouped by the question that quotes it.
HOSTILE_PIECES = {
    "How much is the Hostileville bridge toll?": (
        "<script>window.__xss=1</script>", '<img src=x onerror="window.__xss=2">',
        '<a href="javascript:window.__xss=3">click</a>', "[click](javascript:window.__xss=4)"),
    "How much is the Hostileville ferry fare?": (
        "![x](https://attacker.invalid/pixel.png)", '<svg onload="window.__xss=7"></svg>',
        '<iframe srcdoc="<script>parent.__xss=8</script>"></iframe>'),
}


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[str, Assistant]]:
    with running_app(tmp_path_factory.mktemp("web") / "data", embedder) as served:
        yield served


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    require_marker(request, "browser")
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context per test; its last screen is kept under tests/artifacts/."""
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def open_app(page: Page, url: str) -> None:
    """The page, loaded: the question box, and the first screen or the conversation the browser kept."""
    page.goto(url)
    page.wait_for_selector("#question textarea")
    page.wait_for_selector("#conversation .welcome, #conversation .answer")


def answers(page: Page) -> Locator:
    return page.locator("#conversation .answer")


def questions(page: Page) -> Locator:
    return page.locator("#conversation [data-testid=user]")


def wait_for_answer(page: Page, count: int) -> Locator:
    """Wait until the conversation holds ``count`` finished answers and the box is free; the last answer."""
    page.wait_for_function(
        "n => document.querySelectorAll('#conversation .answer').length === n && "
        "!document.querySelector('#conversation .answer.pending') && !document.querySelector('#send[disabled]')",
        arg=count)
    return answers(page).nth(count - 1)


def ask(page: Page, question: str) -> Locator:
    count = answers(page).count()
    page.fill("#question textarea", question)
    page.click("#send")
    return wait_for_answer(page, count + 1)


def set_slider(page: Page, selector: str, value: int, attempts: int = 5) -> None:
    """Type a value into a Gradio slider's number box, as a user does, until the slider holds it.

    The slider renders when its accordion opens, and a value typed while it settles can be reset
    to the initial one (seen in CI and locally under load); a user would type it again, and so
    does this helper. Fails if the slider never takes the value.
    """
    box = page.locator(f"{selector} input[type=number]")
    slider = page.locator(f"{selector} input[type=range]")
    for _ in range(attempts):
        expect(box).to_be_visible()
        box.fill(str(value))
        box.press("Tab")
        try:
            expect(slider).to_have_value(str(value), timeout=3_000)
            page.wait_for_timeout(300)  # and it stays there
            expect(slider).to_have_value(str(value), timeout=1_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the slider {selector} never took the value {value}")


def go_to_documents(page: Page) -> None:
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_selector("#documents-table tr[data-doc]")


def go_to_chat(page: Page) -> None:
    page.get_by_role("tab", name="Chat").click()
    page.wait_for_selector("#question textarea")


def upload(page: Page, *paths: Path) -> Locator:
    """Upload files on the Documents tab; the per-file result rows."""
    go_to_documents(page)
    page.set_input_files("#upload input[type=file]", [str(p) for p in paths])
    rows = page.locator("#upload-results tbody tr")
    expect(rows).to_have_count(len(paths))
    return rows


def document_row(page: Page, text: str) -> Locator:
    return page.locator("#documents-table tr[data-doc]", has_text=text)


def xss_fired(page: Page) -> bool:
    return bool(page.evaluate("typeof window.__xss !== 'undefined'"))


# --------------------------------------------------------------------------- chat


@pytest.mark.browser
def test_first_screen_lists_the_documents_and_offers_examples_made_from_them(
        page: Page, served: tuple[str, Assistant], tmp_path: Path) -> None:
    """Defect 11: the first screen said nothing about what is loaded and offered a fixed list of examples."""
    url, assistant = served
    open_app(page, url)
    welcome = page.locator("#conversation .welcome")
    expect(welcome).to_contain_text(f"Loaded: {len(assistant.documents())} documents")
    expect(welcome).to_contain_text("长江河道采砂管理条例")
    expect(welcome).to_contain_text("regulation")  # its kind
    token = f"Zorvex{uuid.uuid4().hex[:6]}"
    note = tmp_path / "zorvex.md"
    note.write_text(f"# {token} ferry charter\n\n## Timetable of the {token} ferries\n\n"
                    f"The {token} ferry leaves at nine.\n", encoding="utf-8")
    try:
        upload(page, note)
        go_to_chat(page)
        example = page.locator("#conversation button.example", has_text=token)
        expect(example).to_have_count(1)
        expect(example).to_contain_text("Timetable")  # made from the document's heading, never seen before
        asked = example.inner_text().strip()
        example.click()
        wait_for_answer(page, 1)
        expect(questions(page).first).to_have_text(asked)
    finally:
        remove_by_source(assistant, "zorvex.md")


@pytest.mark.browser
def test_a_marker_opens_the_highlighted_span_and_the_whole_document(page: Page,
                                                                    served: tuple[str, Assistant]) -> None:
    url, _ = served
    open_app(page, url)
    answer = ask(page, EN_QUESTION)
    expect(answer).to_have_class(re.compile(r"\bgrounded\b"))
    expect(questions(page).first).to_have_text(EN_QUESTION)
    marker = answer.locator("button.cite").first
    number = marker.inner_text()
    assert re.fullmatch(r"\[\d+\]", number)
    marker.click()
    mark = page.locator("#source-panel mark")
    expect(mark).to_contain_text("2035")
    panel = page.locator("#source-panel")
    expect(panel).to_contain_text(f"Source {number}")
    expect(panel).to_contain_text("Continue to break the ice")  # the document's title
    expect(panel).to_contain_text("English (en)")  # its language
    passage = panel.locator("blockquote.passage").inner_text()
    assert mark.inner_text() in passage and len(passage) > len(mark.inner_text())
    # defect 5: the source is the file's name, never the server's path
    source = panel.locator("dd").nth(1).inner_text()
    assert source == "yichang-model-city-commentary.md", source
    assert str(ROOT) not in panel.inner_text()
    # the whole document opens at the cited passage
    panel.locator("button.open-document").click()
    viewer = page.locator("#document-viewer")
    expect(viewer.locator("mark#cited")).to_contain_text("2035")
    assert len(viewer.locator(".document-body").inner_text()) > len(passage)


@pytest.mark.browser
def test_a_listed_source_opens_the_same_passage_as_its_marker(page: Page, served: tuple[str, Assistant]) -> None:
    open_app(page, served[0])
    answer = ask(page, EN_QUESTION)
    source = answer.locator(".sources button.source").first
    label = source.locator(".label").inner_text()
    source.click()
    number = re.match(r"\[(\d+)\]", label)
    assert number, label
    expect(page.locator("#source-panel .panel-kicker")).to_contain_text(f"Source [{number.group(1)}]")
    expect(page.locator("#source-panel mark")).to_have_count(1)


@pytest.mark.browser
def test_chinese_question_gets_a_chinese_answer_or_refusal(page: Page, served: tuple[str, Assistant]) -> None:
    open_app(page, served[0])
    answer = ask(page, ZH_QUESTION)
    expect(answer).to_have_attribute("lang", "zh")
    assert CJK.search(answer.locator(".answer-text").inner_text())
    if "grounded" in (answer.get_attribute("class") or ""):
        answer.locator("button.cite").first.click()
        expect(page.locator("#source-panel mark").first).to_be_visible()
    else:
        expect(answer.locator(".badge")).to_have_text(REFUSAL_BADGE)


@pytest.mark.browser
def test_refusal_lists_the_nearest_passages_in_order_without_contradicting_numbers(
        page: Page, served: tuple[str, Assistant]) -> None:
    """Defect 6: "relevance" numbers that contradicted the order of the nearest passages."""
    url, assistant = served
    question = "What is the price of green tea in Lima's central market?"
    open_app(page, url)
    answer = ask(page, question)
    expect(answer).to_have_class(re.compile(r"\brefusal\b"))
    expect(answer.locator(".badge")).to_have_text(REFUSAL_BADGE)
    assert answer.locator("button.cite").count() == 0
    nearest = answer.locator(".sources button.source")
    assert nearest.count() >= 1
    expect(answer.locator(".sources-title")).to_have_text("Nearest passages (best match first)")
    listed = [nearest.nth(i).get_attribute("title") for i in range(nearest.count())]
    ranked = [p.cite() for p in assistant.retrieve(question)]
    assert listed == ranked[:len(listed)], (listed, ranked)  # best match first: the order retrieval ranked them in
    assert not re.search(r"relevance|\b0\.\d\d\b", answer.inner_text(), re.I)
    nearest.first.click()
    panel = page.locator("#source-panel")
    expect(panel.locator(".panel-kicker")).to_contain_text("Nearest passage 1")
    expect(panel.locator("blockquote.passage")).not_to_be_empty()
    expect(panel.locator("mark")).to_have_count(0)  # nothing supports an answer, so nothing is marked
    assert not re.search(r"relevance", panel.inner_text(), re.I)


@pytest.mark.browser
def test_follow_ups_are_rewritten_and_standalone_questions_are_not(page: Page, served: tuple[str, Assistant]) -> None:
    """Defect 3: a standalone question was merged with the previous one; a Chinese follow-up was not rewritten."""
    open_app(page, served[0])
    first = ask(page, EN_QUESTION)
    follow_up = ask(page, "And in how many stages?")
    searched = follow_up.locator(".searched")
    expect(searched).to_be_visible()  # the follow-up was rewritten with the earlier question's subject
    assert "model" in searched.inner_text().lower()
    standalone = ask(page, "How should cadres learn?")
    expect(standalone.locator(".searched")).to_have_count(0)
    assert standalone.locator(".answer-text").inner_text() != first.locator(".answer-text").inner_text()
    ask(page, "长江河道采砂需要什么许可？")
    chinese = ask(page, "违反的话怎么处罚？")
    expect(chinese.locator(".searched")).to_contain_text("河道")  # the earlier question's subject


@pytest.mark.browser
def test_enter_and_ask_at_once_make_one_turn(
        page: Page, served: tuple[str, Assistant]) -> None:
    """Defect 1: Enter and Ask at once left a turn stuck at "Searching…" or duplicated the question."""
    open_app(page, served[0])
    box = page.locator("#question textarea")
    box.fill(EN_QUESTION)
    page.evaluate("""() => {
        const box = document.querySelector('#question textarea');
        // a real Enter: Gradio's textbox submits on keypress, so a keydown alone submits nothing
        for (const type of ['keydown', 'keypress']) {
            box.dispatchEvent(new KeyboardEvent(type, {key: 'Enter', code: 'Enter', keyCode: 13, charCode: 13,
                                                      bubbles: true, cancelable: true}));
        }
        document.querySelector('#send').click();
    }""")
    wait_for_answer(page, 1)  # the box waiting while an answer is made is asserted on a hanging answer below
    page.wait_for_timeout(1500)  # a second answer, if one had been started, would have appeared by now
    expect(questions(page)).to_have_count(1)
    expect(answers(page)).to_have_count(1)
    expect(page.locator("#conversation .answer.pending")).to_have_count(0)
    expect(box).to_be_enabled()
    expect(page.locator("#stop")).to_be_hidden()
    expect(page.locator("#announcer")).to_contain_text("Answer ready.")  # said to screen readers
    second = ask(page, "How should cadres learn?")  # and the next question works
    expect(second).not_to_have_class(re.compile(r"\bpending\b"))


@pytest.mark.browser
def test_stop_abandons_a_hanging_answer_and_frees_the_box(page: Page, tmp_path: Path, embedder: Embedder) -> None:
    """A configured model that never answers: Stop abandons the turn at once and the next question works."""
    with silent_server() as port, running_app(
            tmp_path / "data", embedder, llm_provider="openai", llm_model="m", llm_api_key="sk-test",
            llm_base_url=f"http://127.0.0.1:{port}/v1", llm_timeout=120.0) as (url, _):
        open_app(page, url)
        page.fill("#question textarea", EN_QUESTION)
        page.click("#send")
        expect(page.locator("#conversation .answer.pending")).to_have_count(1)
        expect(page.locator("#question textarea")).to_be_disabled()  # the box and Ask wait while answering
        expect(page.locator("#send")).to_be_disabled()
        expect(page.locator("#stop")).to_be_visible()
        page.locator("#stop").click()
        expect(page.locator("#conversation .answer.stopped")).to_have_count(1)
        expect(page.locator("#conversation .answer.pending")).to_have_count(0)
        expect(page.locator("#question textarea")).to_be_enabled()
        expect(page.locator("#stop")).to_be_hidden()
        page.get_by_text("Answer settings").click()
        page.locator("#mode").get_by_test_id("extractive-radio-label").click()
        answer = ask(page, EN_QUESTION)
        expect(answer).to_have_class(re.compile(r"\bgrounded\b"))
        expect(page.locator("#conversation .answer.stopped")).to_have_count(1)  # the stopped turn stays, marked


@pytest.mark.browser
def test_the_newest_answer_is_scrolled_into_view(page: Page, served: tuple[str, Assistant]) -> None:
    """Defect 2: after a few turns, or a very long question, the new answer stayed below the fold."""
    open_app(page, served[0])
    for question in (EN_QUESTION, "How should cadres learn?", ZH_QUESTION):
        ask(page, question)
    long_question = "What does the plenary session say about the Yangtze River? " * 50  # ~3,000 characters
    count = answers(page).count()
    page.fill("#question textarea", long_question.strip())
    typed = page.locator("#question textarea").bounding_box()  # measured while it holds the long question
    assert typed is not None and typed["height"] < 220, typed  # the box scrolls inside itself instead of growing
    page.click("#send")
    last = wait_for_answer(page, count + 1)
    page.wait_for_timeout(800)  # the chat scrolls smoothly
    visible = page.evaluate("""() => {
        const answers = document.querySelectorAll('#conversation .answer');
        const box = answers[answers.length - 1].getBoundingClientRect();
        return box.bottom > 0 && box.top < window.innerHeight;
    }""")
    assert visible, "the newest answer is outside the window"
    assert last.is_visible()
    box = page.locator("#question textarea").bounding_box()
    assert box is not None and box["height"] < 220  # the box scrolls inside itself instead of growing


@pytest.mark.browser
def test_retry_edit_and_feedback(page: Page, served: tuple[str, Assistant]) -> None:
    url, assistant = served
    open_app(page, url)
    ask(page, EN_QUESTION)
    ask(page, "How should cadres learn?")
    page.locator("#conversation button[aria-label=Retry]").last.click()
    wait_for_answer(page, 2)
    expect(questions(page)).to_have_count(2)
    expect(questions(page).last).to_have_text("How should cadres learn?")
    # editing the first question answers it anew and drops what came after it
    questions(page).first.hover()
    page.locator("#conversation button[aria-label=Edit]").first.click()
    editor = page.locator("#conversation textarea").first
    editor.fill(ZH_QUESTION)
    page.get_by_role("button", name=re.compile("^Submit$", re.I)).first.click()
    wait_for_answer(page, 1)
    expect(questions(page)).to_have_count(1)
    expect(questions(page).first).to_have_text(ZH_QUESTION)
    # a like is recorded with the question, the answer and the passages it cited
    path = assistant.settings.data_dir / "feedback.jsonl"
    before = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    page.locator("#conversation button[aria-label=Like]").last.click()
    expect(page.locator("#chat-notice")).to_contain_text("recorded as helpful")
    records = path.read_text(encoding="utf-8").splitlines()
    assert len(records) == len(before) + 1
    record = json.loads(records[-1])
    assert record["liked"] is True and record["question"] == ZH_QUESTION and record["answer"]


@pytest.mark.browser
def test_copy_puts_the_answer_with_its_citations_on_the_clipboard(browser: Browser,
                                                                  served: tuple[str, Assistant]) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 950}, permissions=["clipboard-read",
                                                                                        "clipboard-write"])
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    try:
        open_app(page, served[0])
        answer = ask(page, EN_QUESTION)
        answer.locator("button.copy-answer").click()
        expect(answer.locator("button.copy-answer.copied")).to_have_count(1)
        copied = page.evaluate("navigator.clipboard.readText()")
        assert "2035" in copied and re.search(r"\[\d+\]", copied)
        assert "Continue to break the ice" in copied  # the source is part of what is copied
        assert "Copy with citations" not in copied
    finally:
        context.close()


@pytest.mark.browser
def test_conversations_survive_a_reload_and_can_be_reopened_exported_and_deleted(
        page: Page, served: tuple[str, Assistant], tmp_path: Path) -> None:
    open_app(page, served[0])
    ask(page, EN_QUESTION)
    page.reload()
    open_app(page, served[0])
    expect(questions(page)).to_have_count(1)  # the conversation is still there after a reload
    expect(answers(page).first).to_have_class(re.compile(r"\bgrounded\b"))
    answers(page).first.locator("button.cite").first.click()  # and its citations still open
    expect(page.locator("#source-panel mark")).to_contain_text("2035")

    # export: Markdown and a Word file whose citations are footnotes
    page.get_by_text("Conversations").click()
    with page.expect_download() as got:
        page.click("#export-md")
    markdown = Path(got.value.path()).read_text(encoding="utf-8")
    assert EN_QUESTION in markdown and re.search(r"\[\^1\]: .*Continue to break the ice.*2035", markdown)
    with page.expect_download() as got:
        page.click("#export-docx")
    footnotes = docx_footnotes(Path(got.value.path()))
    assert any("Continue to break the ice" in note and "2035" in note for note in footnotes), footnotes

    page.click("#new-chat")
    expect(questions(page)).to_have_count(0)
    ask(page, ZH_QUESTION)
    past = page.locator("#past")
    past.locator("input").click()
    options = page.get_by_role("option")
    expect(options).to_have_count(2)
    page.get_by_role("option", name=re.compile(re.escape(EN_QUESTION[:30]))).click()
    page.click("#open-conversation")
    expect(questions(page).first).to_have_text(EN_QUESTION)
    expect(questions(page)).to_have_count(1)
    past.locator("input").click()
    page.get_by_role("option", name=re.compile(re.escape(EN_QUESTION[:30]))).click()
    page.click("#delete-conversation")
    expect(questions(page)).to_have_count(0)
    page.reload()
    open_app(page, served[0])
    page.get_by_text("Conversations").click()
    past.locator("input").click()
    expect(page.get_by_role("option")).to_have_count(1)


def docx_footnotes(path: Path) -> list[str]:
    """The text of each footnote of a .docx (the XML part python-docx does not read)."""
    import zipfile
    from xml.etree import ElementTree

    ns = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
    with zipfile.ZipFile(path) as archive:
        root = ElementTree.fromstring(archive.read("word/footnotes.xml"))
        document = archive.read("word/document.xml").decode("utf-8")
    notes = ["".join(t.text or "" for t in note.iter(f"{{{ns['w']}}}t"))
             for note in root.findall("w:footnote", ns) if int(note.get(f"{{{ns['w']}}}id", "0")) > 0]
    assert document.count("footnoteReference") == len(notes)
    return notes


@pytest.mark.browser
def test_new_chat_clears_the_conversation(page: Page, served: tuple[str, Assistant]) -> None:
    open_app(page, served[0])
    ask(page, EN_QUESTION)
    page.locator("#conversation button.cite").first.click()
    expect(page.locator("#source-panel mark")).to_be_visible()
    page.click("#new-chat")
    expect(page.locator("#conversation .welcome")).to_be_visible()
    expect(answers(page)).to_have_count(0)
    expect(page.locator("#source-panel mark")).to_have_count(0)
    # and the next question starts a new history: it is not rewritten as a follow-up
    answer = ask(page, EN_QUESTION)
    expect(answer.locator(".searched")).to_have_count(0)


@pytest.mark.browser
def test_settings_show_the_embedding_model_store_and_answer_options(page: Page,
                                                                   served: tuple[str, Assistant]) -> None:
    url, assistant = served
    open_app(page, url)
    page.get_by_text("Answer settings").click()
    info = page.locator("#system-info")
    described = assistant.describe()
    expect(info).to_contain_text(described["embedding"])
    expect(info).to_contain_text(described["store"])
    expect(page.locator("#top-k input[type=number]")).to_have_value(str(assistant.settings.top_k))
    expect(page.locator("#mode")).to_contain_text("extractive")


@pytest.mark.browser
def test_passage_slider_sets_how_many_passages_the_answer_uses(page: Page, served: tuple[str, Assistant]) -> None:
    open_app(page, served[0])
    page.get_by_text("Answer settings").click()
    set_slider(page, "#top-k", 2)
    answer = ask(page, "What is the price of green tea in Lima's central market?")
    expect(answer).to_have_class(re.compile(r"\brefusal\b"))
    listed = answer.locator(".sources button.source").count()
    assert 1 <= listed <= 2, f"{listed} nearest passages listed with the slider at 2"


@pytest.mark.browser
def test_chinese_interface_translates_every_string_and_answers_follow_the_question(
        browser: Browser, served: tuple[str, Assistant]) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 950}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    try:
        open_app(page, served[0])
        expect(page.locator("#header")).to_contain_text("政策助手")
        answer = ask(page, EN_QUESTION)  # an English question is still answered in English
        expect(answer).to_have_attribute("lang", "en")
        expect(answer.locator(".badge")).to_contain_text("来自文档的回答")
        page.get_by_text("回答设置").click()
        page.get_by_text("对话记录").click()
        page.get_by_text("按日期、类型、发布机关、语言筛选文档").click()
        expect(page.locator("#filter-since")).to_be_visible()
        untranslated = english_interface_text(page)
        page.get_by_role("tab", name="文档").click()
        page.wait_for_selector("#documents-table tr[data-doc]")
        page.get_by_text("修改文档信息").click()
        expect(page.locator("#details-save")).to_be_visible()
        untranslated += english_interface_text(page)
        assert not untranslated, "\n".join(untranslated)
        page.get_by_text("English", exact=True).click()  # the switch
        expect(page.locator("#header")).to_contain_text("Policy assistant")
        expect(page.get_by_role("tab", name="Chat")).to_be_visible()
    finally:
        context.close()


# Words that stay as they are in a Chinese interface: formats, names of models and settings.
_KEPT = {"csv", "docx", "markdown", "jsonl", "txt", "md", "pdf", "html", "png", "jpg", "tif", "mb", "https", "http",
         "extractive", "llm", "api", "assistant", "provider", "chroma", "nanoe", "minilm", "multilingual", "small",
         "sentence", "transformers", "all", "hybrid", "embedded", "data", "english", "gradio", "id", "dense", "bm",
         "zh", "en", "en-us", "q4", "l6", "v2"}


def english_interface_text(page: Page) -> list[str]:
    """Visible interface strings and aria-labels holding English words (document content excepted)."""
    found = page.evaluate("""() => {
        const content = '#conversation .message-content, #documents-table td, #source-panel, #document-viewer, '
            + '#documents-viewer, #conversation .welcome .doc-title, #scope .token, #system-info dd, #past';
        const skip = (node) => node.closest && node.closest(content);
        const out = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode, parent = node.parentElement;
            if (!parent || skip(parent) || !node.textContent.trim()) continue;
            const style = getComputedStyle(parent);
            if (style.display === 'none' || style.visibility === 'hidden') continue;
            if (parent.closest('[hidden], .hidden, .sr-only')) continue;
            if (!parent.getClientRects().length) continue;
            out.push(node.textContent.trim());
        }
        document.querySelectorAll('[aria-label]').forEach((el) => {  // a message's label quotes the message
            const label = el.getAttribute('aria-label');
            if (!skip(el) && el.getClientRects().length && !/^(用户提问|助手回答)：/.test(label)) out.push(label);
        });
        return out;
    }""")
    english = []
    for value in found:
        words = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]{2,}", value)} - _KEPT
        if words:
            english.append(value)
    return english


# --------------------------------------------------------------------------- documents


@pytest.mark.browser
def test_reindex_rebuilds_the_index_and_answers_still_cite(page: Page, served: tuple[str, Assistant]) -> None:
    url, assistant = served
    chunks = assistant.store.count_chunks()
    open_app(page, url)
    go_to_documents(page)
    page.click("#reindex")
    expect(page.locator("#documents-status")).to_contain_text(re.compile(r"Re-indexed \d+ documents into \d+ chunks"))
    assert assistant.store.count_chunks() == chunks
    go_to_chat(page)
    answer = ask(page, EN_QUESTION)
    answer.locator("button.cite").first.click()
    expect(page.locator("#source-panel mark")).to_contain_text("2035")


@pytest.mark.browser
def test_upload_ask_replace_and_delete_a_document(page: Page, served: tuple[str, Assistant], tmp_path: Path) -> None:
    url, assistant = served
    note = tmp_path / "quuxville-budget.md"
    note.write_text("# Quuxville roads notice\n\nThe Quuxville zebra crossing budget for 2031 is 42 million yuan, "
                    "paid by the county road office.\n", encoding="utf-8")
    open_app(page, url)
    rows = upload(page, note)
    expect(rows.first).to_contain_text("quuxville-budget.md")
    expect(rows.first.locator(".status")).to_have_text("added")
    expect(document_row(page, "Quuxville roads notice")).to_have_count(1)
    expect(document_row(page, "Quuxville roads notice")).to_contain_text("quuxville-budget.md")

    go_to_chat(page)
    answer = ask(page, "What is the zebra crossing budget of Quuxville?")
    expect(answer).to_have_class(re.compile(r"\bgrounded\b"))
    expect(answer.locator(".sources")).to_contain_text("Quuxville roads notice")
    answer.locator("button.cite").first.click()
    expect(page.locator("#source-panel .panel-title")).to_have_text("Quuxville roads notice")
    expect(page.locator("#source-panel mark")).to_contain_text("42 million")

    # a changed file under the same name replaces the old version
    note.write_text("# Quuxville roads notice\n\nThe Quuxville zebra crossing budget for 2031 is 55 million yuan, "
                    "paid by the county road office.\n", encoding="utf-8")
    rows = upload(page, note)
    expect(rows.first.locator(".status")).to_have_text("replaced")
    expect(document_row(page, "Quuxville roads notice")).to_have_count(1)
    go_to_chat(page)
    answer = ask(page, "What is the zebra crossing budget of Quuxville?")
    answer.locator("button.cite").first.click()
    expect(page.locator("#source-panel mark")).to_contain_text("55 million")

    # delete asks first; Cancel keeps the document
    go_to_documents(page)
    document_row(page, "Quuxville roads notice").locator("button.delete-doc").click()
    expect(page.locator("#confirm-text")).to_contain_text("Delete “Quuxville roads notice”")
    page.click("#cancel-delete")
    expect(page.locator("#confirm-delete")).to_be_hidden()
    expect(document_row(page, "Quuxville roads notice")).to_have_count(1)
    document_row(page, "Quuxville roads notice").locator("button.delete-doc").click()
    page.click("#confirm-delete")
    expect(page.locator("#documents-status")).to_contain_text("Deleted “Quuxville roads notice”")
    expect(document_row(page, "Quuxville roads notice")).to_have_count(0)
    assert not [d for d in assistant.documents() if d.source == "quuxville-budget.md"]

    go_to_chat(page)
    answer = ask(page, "What is the zebra crossing budget of Quuxville?")
    expect(answer.locator(".sources")).not_to_contain_text("Quuxville roads notice")


@pytest.mark.browser
def test_upload_several_files_reports_each(page: Page, served: tuple[str, Assistant], tmp_path: Path) -> None:
    url, assistant = served
    good = tmp_path / "ferry-hours.txt"
    good.write_text("Ferry hours\n\nThe Zhijiang ferry runs every 20 minutes until 22:00.\n", encoding="utf-8")
    bad = tmp_path / "scan.xyz"
    bad.write_text("binary-ish", encoding="utf-8")
    open_app(page, url)
    rows = upload(page, good, bad)
    results = {rows.nth(i).locator("td").first.inner_text(): rows.nth(i) for i in range(2)}
    expect(results["ferry-hours.txt"].locator(".status")).to_have_text("added")
    expect(results["scan.xyz"].locator(".status")).to_have_text("failed")
    assert results["scan.xyz"].locator("td").last.inner_text().strip()  # the reason is shown
    remove_by_source(assistant, "ferry-hours.txt")


@pytest.mark.browser
def test_scope_restricts_answers_to_the_chosen_documents(page: Page, served: tuple[str, Assistant],
                                                         tmp_path: Path) -> None:
    url, assistant = served
    note = tmp_path / "harbour.md"
    note.write_text("# Harbour dredging plan\n\nThe Yichang harbour dredging will be finished by 2028.\n",
                    encoding="utf-8")
    open_app(page, url)
    upload(page, note)
    go_to_chat(page)
    scope = page.locator("#scope")
    scope.locator("input").click()
    page.get_by_role("option", name=re.compile("Harbour dredging plan")).click()
    page.keyboard.press("Escape")
    expect(scope).to_contain_text("Harbour dredging plan")
    answer = ask(page, EN_QUESTION)
    sources = answer.locator(".sources")
    expect(sources).to_contain_text("Harbour dredging plan")
    expect(sources).not_to_contain_text("Continue to break the ice")
    remove_by_source(assistant, "harbour.md")


@pytest.mark.browser
def test_deleting_a_scoped_document_says_so_and_its_old_citation_says_it_is_gone(
        page: Page, served: tuple[str, Assistant], tmp_path: Path) -> None:
    """Defect 8: deleting the scoped document silently widened the scope; its old citation opened as if it
    still existed."""
    url, _ = served
    note = tmp_path / "pier.md"
    note.write_text("# Pier repair notice\n\nThe Yichang pier repair will be finished by 2029.\n", encoding="utf-8")
    open_app(page, url)
    upload(page, note)
    go_to_chat(page)
    page.locator("#scope input").click()
    page.get_by_role("option", name=re.compile("Pier repair notice")).click()
    page.keyboard.press("Escape")
    answer = ask(page, "When will the Yichang pier repair be finished?")
    expect(answer.locator(".sources")).to_contain_text("Pier repair notice")
    go_to_documents(page)
    document_row(page, "Pier repair notice").locator("button.delete-doc").click()
    page.click("#confirm-delete")
    expect(document_row(page, "Pier repair notice")).to_have_count(0)
    go_to_chat(page)
    expect(page.locator("#chat-notice")).to_contain_text("deleted")
    expect(page.locator("#scope")).not_to_contain_text("Pier repair notice")
    answer.locator("button.cite").first.click()
    expect(page.locator("#source-panel .deleted")).to_contain_text("deleted since the answer was given")
    expect(page.locator("#source-panel button.open-document")).to_have_count(0)


@pytest.mark.browser
def test_at_phone_width_every_cell_of_the_documents_table_can_be_reached(browser: Browser,
                                                                         served: tuple[str, Assistant]) -> None:
    """Defect 9: at 390 px the table was cut off (source, id and Delete out of reach, no horizontal scroll)."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    try:
        open_app(page, served[0])
        go_to_documents(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # the page itself does not widen
        cells = page.locator("#documents-table th, #documents-table td")
        for i in range(cells.count()):
            cell = cells.nth(i)
            cell.scroll_into_view_if_needed()
            box = cell.bounding_box()
            assert box is not None and box["x"] >= -1 and box["x"] + min(box["width"], 390) <= 391, (i, box)
        # reached by scrolling a box a user can scroll: scrolling into view also scrolls boxes that hide their
        # overflow (Gradio's container does), which no finger or wheel can
        hidden_scrolled = page.evaluate("""() => [...document.querySelectorAll('*')]
            .filter((n) => n.scrollLeft > 0 && !['auto', 'scroll'].includes(getComputedStyle(n).overflowX))
            .map((n) => `${n.tagName}.${n.className}`)""")
        assert hidden_scrolled == [], hidden_scrolled
        delete = page.locator("#documents-table button.delete-doc").first
        delete.scroll_into_view_if_needed()
        expect(delete).to_be_in_viewport()
        overlaps = page.evaluate("""() => {  // the upload label's words against its icon and the drop-zone icon
            const label = document.querySelector('#upload [data-testid=block-label]');
            const icons = [label.querySelector('svg'), document.querySelector('#upload [data-testid=upload-icon]')];
            const words = [...label.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
            const boxes = words.flatMap((n) => { const r = document.createRange(); r.selectNodeContents(n);
                                                 return [...r.getClientRects()]; });
            const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
            return boxes.length === 0 ? 'no label text' :
                icons.filter(Boolean).some((icon) => boxes.some((box) => hit(box, icon.getBoundingClientRect())));
        }""")
        assert overlaps is False, overlaps
        header = page.locator("#header h1").bounding_box()
        assert header is not None and header["x"] + header["width"] <= 391  # the title is not cut off either
    finally:
        context.close()


@pytest.mark.browser
def test_upload_progress_shows_reading_before_embedding_and_leaves_the_results_visible(
        page: Page, served: tuple[str, Assistant], tmp_path: Path) -> None:
    """Defect 10: progress sat at 0 % while files were read, and its overlay covered the previous results."""
    url, assistant = served
    first = tmp_path / "kiln-a.md"
    first.write_text("# Kiln notice A\n\nThe Kiln A permit costs 3 yuan.\n", encoding="utf-8")
    from fpdf import FPDF

    pdf = FPDF()  # a long PDF takes seconds to read and chunk before anything is embedded
    pdf.set_font("helvetica", size=11)
    for number in range(150):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Kiln register page {number}. Kiln {number} renews its permit in month {number % 12}.")
    big = tmp_path / "kiln-register.pdf"
    pdf.output(str(big))
    open_app(page, url)
    try:
        upload(page, first)
        expect(document_row(page, "Kiln notice A")).to_have_count(1)  # the upload's follow-up steps are done
        expect(page.get_by_text(re.compile("Drop File Here", re.I))).to_be_visible()  # the box is empty again
        page.evaluate(r"""() => {  // the progress text can come and go between two polls: remember what it said
            window.__progress = [];
            const area = document.querySelector('#upload-progress');
            new MutationObserver(() => window.__progress.push(area.textContent)).observe(
                area, {subtree: true, childList: true, characterData: true});
            // and whether Gradio's loading overlay ever covered the previous results (it sits inside them, so
            // elementFromPoint alone cannot tell; it is a status wrap neither hidden nor merely "generating")
            window.__covered = false;
            window.__lost = false;  // the previous results gone before the new ones came (quick when memoised)
            const results = document.querySelector('#upload-results');
            new MutationObserver(() => {
                if (results.querySelector('.wrap:not(.hide):not(.generating)')) window.__covered = true;
                if (!/kiln-a\.md|kiln-register\.pdf/.test(results.textContent)) window.__lost = true;
            }).observe(results, {subtree: true, childList: true, attributes: true, characterData: true});
        }""")
        page.set_input_files("#upload input[type=file]", [str(big)])
        page.wait_for_function("() => window.__progress.some((t) => /Reading kiln-register/.test(t))")
        page.wait_for_function("() => window.__progress.some((t) => /Embedding/.test(t))")
        results = page.locator("#upload-results")
        assert not page.evaluate("window.__lost"), "the previous upload results vanished while the next was read"
        box = results.bounding_box()
        assert box is not None
        on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('#upload-results') !== null",
                               [box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 20)])
        assert on_top, "something covers the previous upload results"
        assert not page.evaluate("window.__covered"), "a loading overlay covered the previous upload results"
        expect(page.locator("#upload-results")).to_contain_text("kiln-register.pdf", timeout=3 * TIMEOUT)
    finally:
        remove_by_source(assistant, "kiln-")


@pytest.mark.browser
def test_documents_can_be_searched_sorted_and_read_whole_with_page_numbers(
        page: Page, served: tuple[str, Assistant], tmp_path: Path) -> None:
    url, assistant = served
    from fpdf import FPDF

    pdf = FPDF()
    for number in (1, 2):
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 8, f"Quarry report page {number}. The Quarry levy on page {number} is {number * 7} yuan.")
    path = tmp_path / "quarry-report.pdf"
    pdf.output(str(path))
    open_app(page, url)
    try:
        upload(page, path)
        page.fill("#doc-search textarea, #doc-search input", "quarry")
        expect(page.locator("#documents-table tr[data-doc]")).to_have_count(1)
        page.fill("#doc-search textarea, #doc-search input", "")
        expect(page.locator("#documents-table tr[data-doc]")).to_have_count(len(assistant.documents()))
        page.locator("#doc-sort input").click()
        page.get_by_role("option", name="Title").click()
        first_cells = page.locator("#documents-table tr[data-doc] td:first-child")
        expect(first_cells.first).to_have_text(min(d.title for d in assistant.documents()))
        titles = first_cells.all_inner_texts()
        assert titles == sorted(titles)
        document_row(page, "quarry-report").locator("button.view-doc").click()
        viewer = page.locator("#documents-viewer")
        expect(viewer.locator(".page-heading")).to_have_count(2)
        expect(viewer).to_contain_text("Page 2")
        expect(viewer).to_contain_text("14 yuan")
    finally:
        remove_by_source(assistant, "quarry-report.pdf")


@pytest.mark.browser
def test_a_web_page_added_by_url_is_answered_and_cited_with_its_url(page: Page, tmp_path: Path,
                                                                    embedder: Embedder) -> None:
    """Issue 14: a page added by URL on the Documents tab (a loopback site; the allow-list lets the fetcher reach
    it), then asked about in the chat; an address outside http(s) is refused per line."""
    html_page = ("<html><head><title>Quillon ferry notice</title></head><body><nav>Home | News | Contact</nav>"
                 "<main><h1>Quillon ferry notice</h1><p>The Quillon river ferry fare will be 4 yuan per person "
                 "from 1 May 2031, and children under six travel free.</p><p>The ferry runs every half hour "
                 "between six in the morning and ten at night.</p></main><footer>© Quillon county</footer></body>"
                 "</html>").encode()
    with loopback_site({"/notice.html": html_page}) as base, running_app(
            tmp_path / "data", embedder, fetch_allow_hosts="127.0.0.1") as (url, assistant):
        address = f"{base}/notice.html"
        open_app(page, url)
        go_to_documents(page)
        page.fill("#add-url textarea, #add-url input", f"{address}\nftp://example.invalid/x")
        page.click("#add-url-button")
        rows = page.locator("#upload-results tbody tr")
        expect(rows).to_have_count(2, timeout=TIMEOUT)
        expect(page.locator("#upload-results")).to_contain_text(address)
        expect(rows.filter(has_text=address).locator(".status")).to_have_text("added")
        expect(rows.filter(has_text="ftp://").locator(".status")).to_have_text("failed")
        expect(document_row(page, "Quillon ferry notice")).to_contain_text(address)
        go_to_chat(page)
        answer = ask(page, "How much is the Quillon river ferry fare?")
        expect(answer).to_have_class(re.compile(r"\bgrounded\b"))
        answer.locator("button.cite").first.click()
        expect(page.locator("#source-panel")).to_contain_text(address)
        expect(page.locator("#source-panel mark")).to_contain_text("4 yuan")
        assert [d.source for d in assistant.documents() if "Quillon" in d.title] == [address]


@contextmanager
def loopback_site(pages: dict[str, bytes]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving ``pages`` (path -> HTML); yields its base URL."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            return

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def rows_shown(answer: Locator) -> dict[str, str]:
    """The across-documents table under an answer: each row's year and the figure it states."""
    rows = answer.locator(".rows tbody tr")
    cells = [rows.nth(i).locator("td") for i in range(rows.count())]
    return {row.first.inner_text()[:4]: row.nth(2).inner_text().strip() for row in cells}


@pytest.mark.browser
def test_across_documents_gives_dated_cited_tables_and_charts_filters_and_exports(page: Page, tmp_path: Path,
                                                                                   embedder: Embedder) -> None:
    """Issue 13, done when: on a store holding the nine work reports, the GDP target question and the Chinese
    jobs target question each give one dated, cited row per report and a chart; a citation in the table opens
    the sources panel; the filter controls narrow the rows; the table exports as CSV and Markdown that parse
    back to the rows shown."""
    with running_app(tmp_path / "data", embedder) as (url, assistant):
        assert all(r.status == "added" for r in assistant.add(*sorted(REPORTS.glob("*.txt"))))
        open_app(page, url)
        page.locator("#across input").check()
        answer = ask(page, "How did the GDP growth target change from 2016 to 2025?")
        assert rows_shown(answer) == GDP_TARGETS  # year order, 2020 absent and not invented
        expect(page.locator("#chart")).to_be_visible()
        answer.locator(".rows tbody tr").nth(1).locator("button.cite").click()
        expect(page.locator("#source-panel .panel-title")).to_contain_text("2017")
        expect(page.locator("#source-panel mark")).to_contain_text("6.5%左右")

        expect(page.locator("#chart")).to_contain_text("%")
        jobs = ask(page, "历年政府工作报告提出的城镇新增就业目标是多少？")
        assert rows_shown(jobs) == JOB_TARGETS
        expect(page.locator("#chart")).to_contain_text("万人")  # the new question's unit, not the last one's
        page.get_by_text("Conversations").click()
        with page.expect_download() as got:
            page.click("#export-csv")
        exported = rows_from_csv(Path(got.value.path()).read_text(encoding="utf-8"))
        assert [r["figure"] for r in exported] == list(JOB_TARGETS.values())
        with page.expect_download() as got:
            page.click("#export-table-md")
        table = rows_from_markdown(Path(got.value.path()).read_text(encoding="utf-8"))
        assert [r["figure"] for r in table] == list(JOB_TARGETS.values())
        assert [r["quote"] for r in table] == [r["quote"] for r in exported]

        page.get_by_text("Filter documents by date").click()
        page.fill("#filter-since textarea, #filter-since input", "2021")
        page.fill("#filter-until textarea, #filter-until input", "2023")
        narrowed = ask(page, "How did the GDP growth target change?")
        assert rows_shown(narrowed) == {year: GDP_TARGETS[year] for year in ("2021", "2022", "2023")}
        page.fill("#filter-until textarea, #filter-until input", "2019")
        refused = ask(page, "How did the GDP growth target change?")
        expect(refused).to_contain_text("2021")  # the empty range is named, not answered from other years
        expect(refused.locator(".rows tbody tr")).to_have_count(0)
        expect(page.locator("#chart")).to_be_hidden()  # no figures for this turn: no chart left from another


@pytest.mark.browser
def test_a_documents_details_are_corrected_in_the_documents_tab(page: Page, tmp_path: Path,
                                                                 embedder: Embedder) -> None:
    """Issue 13: Edit… on a row opens its details read from the file; a corrected date and kind are stored,
    shown in the table, and used by the filters; saving untouched fields writes nothing."""
    with running_app(tmp_path / "data", embedder) as (url, assistant):
        first, _ = assistant.add(*dated_reports(tmp_path))
        open_app(page, url)
        go_to_documents(page)
        row = page.locator(f"#documents-table tr[data-doc='{first.doc_id}']")
        expect(row).to_contain_text("2018-03-05")
        row.locator("button.edit-doc").click()
        expect(page.locator("#details-date textarea, #details-date input")).to_have_value("2018-03-05")
        page.click("#details-save")
        expect(page.locator("#documents-status")).to_contain_text("Nothing changed")
        page.fill("#details-date textarea, #details-date input", "2017-03-05")
        page.click("#details-save")
        expect(page.locator("#documents-status")).to_contain_text("2017-03-05")
        expect(row).to_contain_text("2017-03-05")
        stored = assistant.document(first.doc_id).metadata
        assert stored["date"] == "2017-03-05" and stored["provenance"]["date"]["from"] == "corrected"
        assert [p.doc_id for p in assistant.retrieve("国内生产总值增长", k=5, until=2017)] == [first.doc_id]
        page.fill("#details-date textarea, #details-date input", "2017-13-01")
        page.click("#details-save")
        expect(page.locator("#documents-status .notice.bad")).to_be_visible()
        assert assistant.document(first.doc_id).metadata["date"] == "2017-03-05"  # a bad date changes nothing


def assert_inert(page: Page, areas: Sequence[str]) -> None:
    """Nothing from a document became live markup: no elements it could smuggle in, no handlers, no scripts run."""
    page.wait_for_timeout(500)  # give any injected handler the chance to run
    assert not xss_fired(page)
    for area in areas:
        smuggled = page.locator(", ".join(f"{area} {tag}" for tag in ("img", "script", "svg", "iframe", "a")))
        assert smuggled.count() == 0, f"markup from the document inside {area}"
    assert page.locator("a[href^='javascript:' i], [onerror], [onload], [srcdoc]").count() == 0


@pytest.mark.browser
def test_hostile_document_renders_as_inert_text(page: Page, served: tuple[str, Assistant], tmp_path: Path) -> None:
    url, assistant = served
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    hostile = tmp_path / "hostile.md"
    hostile.write_text(HOSTILE, encoding="utf-8")
    open_app(page, url)
    rows = upload(page, hostile)
    expect(rows.first.locator(".status")).to_have_text("added")
    try:
        row = document_row(page, "hostile.md")
        expect(row.locator("td").first).to_have_text(HOSTILE_TITLE)  # the HTML title, shown as text
        assert_inert(page, ["#documents-table", "#upload-results"])
        go_to_chat(page)
        page.locator("#scope input").click()  # the scope choices show the hostile title as text too
        option = page.get_by_role("option", name=re.compile("Hostileville notice"))
        expect(option).to_contain_text('<img src=x onerror="window.__xss=5">')
        assert option.locator("img").count() == 0
        page.keyboard.press("Escape")

        panel = page.locator("#source-panel")
        every_piece = [piece for pieces in HOSTILE_PIECES.values() for piece in pieces]
        for question, pieces in HOSTILE_PIECES.items():
            answer = ask(page, question)
            expect(answer).to_have_class(re.compile(r"\bgrounded\b"))
            for piece in pieces:  # the cited sentence, quoted in the answer as text
                expect(answer.locator(".answer-text")).to_contain_text(piece)
            expect(answer.locator(".sources")).to_contain_text(HOSTILE_TITLE)
            for opener in (answer.locator("button.cite").first, answer.locator(".sources button.source").first):
                opener.click()
                expect(panel.locator(".panel-title")).to_have_text(HOSTILE_TITLE)
                for piece in every_piece:
                    expect(panel.locator("blockquote.passage")).to_contain_text(piece)
                expect(panel.locator("dl")).to_contain_text('<iframe srcdoc="<script>parent.__xss=6</script>">')
                assert_inert(page, ["#conversation .message-content", "#source-panel"])
        go_to_documents(page)
        assert_inert(page, ["#conversation .message-content", "#source-panel", "#documents-table"])
        assert not [u for u in requested if "attacker.invalid" in u], requested
    finally:
        remove_by_source(assistant, "hostile.md")


@pytest.mark.browser
def test_browser_upload_names_with_paths_are_stored_as_plain_names(page: Page, served: tuple[str, Assistant],
                                                                   tmp_path: Path) -> None:
    """A page that names its files ``../../x`` or with shell characters: plain names, nothing written elsewhere."""
    url, assistant = served
    token = f"b{uuid.uuid4().hex[:8]}"
    names = {f"../../{token}-dots.md": f"{token}-dots.md",
             f"/tmp/{token}-abs.md": f"{token}-abs.md",
             f"{token} a;rm -rf ~ $(id) `x` | y & z.md": f"{token} a;rm -rf ~ (id) x  y & z.md"}
    top_before = {p.name for p in Path(tempfile.gettempdir()).iterdir()}
    payloads: list[FilePayload] = [
        {"name": name, "mimeType": "text/markdown",
         "buffer": f"# Browser name {i}\n\nThe {token} browser notice {i} sets the fee at {i} yuan.\n".encode()}
        for i, name in enumerate(names)]
    open_app(page, url)
    go_to_documents(page)
    page.set_input_files("#upload input[type=file]", payloads)
    rows = page.locator("#upload-results tbody tr")
    expect(rows).to_have_count(len(names))
    try:
        shown = sorted(rows.nth(i).locator("td").first.inner_text() for i in range(len(names)))
        assert shown == sorted(" ".join(n.split()) for n in names.values())  # the page collapses spaces
        assert [rows.nth(i).locator(".status").inner_text() for i in range(len(names))] == ["added"] * len(names)
        sources = sorted(d.source for d in assistant.documents() if token in d.source)
        assert sources == sorted(names.values())
        assert all(s == safe_source_name(s) and "/" not in s for s in sources)
    finally:
        remove_by_source(assistant, token)
    cache = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()
    assert_nothing_escaped(token, top_before, cache, assistant.settings.data_dir, tmp_path)


@pytest.mark.browser
def test_oversized_upload_is_refused_with_a_clear_message(page: Page, tmp_path: Path, embedder: Embedder) -> None:
    big = tmp_path / "big-report.txt"
    big.write_text("Annual report.\n\n" + "The budget grew. " * 400, encoding="utf-8")  # ~7 KB
    with running_app(tmp_path / "data", embedder, max_upload_mb=0.004) as (url, assistant):
        before = [d.doc_id for d in assistant.documents()]
        open_app(page, url)
        go_to_documents(page)
        page.set_input_files("#upload input[type=file]", [str(big)])
        expect(page.get_by_text(re.compile(r"exceed.*maximum allowed size", re.I))).to_be_visible()
        expect(page.get_by_text(re.compile("big-report.txt"))).to_be_visible()
        assert [d.doc_id for d in assistant.documents()] == before


@pytest.fixture(scope="module")
def read_only_served(tmp_path_factory: pytest.TempPathFactory,
                     embedder: Embedder) -> Iterator[tuple[str, Assistant]]:
    with read_only_app(tmp_path_factory.mktemp("web-ro") / "data", embedder) as served:
        yield served


@pytest.mark.browser
def test_read_only_app_says_so_offers_no_write_controls_and_still_answers(
        page: Page, read_only_served: tuple[str, Assistant]) -> None:
    url, assistant = read_only_served
    before = snapshot(assistant)
    open_app(page, url)
    answer = ask(page, EN_QUESTION)
    expect(answer).to_have_class(re.compile(r"\bgrounded\b"))
    answer.locator("button.cite").first.click()
    expect(page.locator("#source-panel mark")).to_contain_text("2035")

    go_to_documents(page)
    expect(page.locator("#access-note")).to_have_text(READ_ONLY_NOTE)
    expect(page.locator("#documents-table tr[data-doc]")).to_have_count(len(before[0]))
    expect(page.locator("#documents-table button.delete-doc")).to_have_count(0)
    expect(page.locator("#upload")).to_be_hidden()
    expect(page.locator("#reindex")).to_be_hidden()
    expect(page.get_by_text(re.compile("Drop File Here|Click to Upload", re.I))).to_have_count(0)
    page.click("#refresh")  # a refresh re-applies the same read-only state
    expect(page.locator("#access-note")).to_have_text(READ_ONLY_NOTE)
    expect(page.locator("#upload")).to_be_hidden()
    assert snapshot(assistant) == before


# --------------------------------------------------------------------------- sign-in


@pytest.mark.browser
def test_with_auth_the_chat_needs_sign_in_and_only_admins_manage(browser: Browser, tmp_path: Path,
                                                                 embedder: Embedder) -> None:
    with running_app(tmp_path / "data", embedder, auth="alice:wonderland,bob:builder", admins="alice") as (url, _):
        context = browser.new_context(viewport={"width": 1400, "height": 950})
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("input[type=password]")
        expect(page.locator("#conversation")).to_have_count(0)
        assert page.request.get(f"{url}config").status in (401, 403)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "auth-login.png"))
        sign_in(page, "bob", "wrong")
        expect(page.get_by_text(re.compile("Incorrect", re.I))).to_be_visible()
        sign_in(page, "bob", "builder")
        page.wait_for_selector("#question textarea")
        answer = ask(page, EN_QUESTION)
        expect(answer.locator("button.cite").first).to_be_visible()
        page.get_by_role("tab", name="Documents").click()
        expect(page.locator("#access-note")).to_contain_text("only administrators")
        expect(page.locator("#documents-table tr[data-doc]").first).to_be_visible()
        expect(page.locator("#documents-table button.delete-doc")).to_have_count(0)
        expect(page.locator("#reindex")).to_be_disabled()
        context.close()

        context = browser.new_context(viewport={"width": 1400, "height": 950})
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        page.goto(url)
        sign_in(page, "alice", "wonderland")
        page.wait_for_selector("#question textarea")
        page.get_by_role("tab", name="Documents").click()
        expect(page.locator("#documents-table button.delete-doc").first).to_be_visible()
        expect(page.locator("#access-note")).not_to_contain_text("only administrators")
        expect(page.locator("#reindex")).to_be_enabled()
        context.close()


def sign_in(page: Page, user: str, password: str) -> None:
    page.fill("input[type=text], input[name=username]", user)
    page.fill("input[type=password]", password)
    page.get_by_role("button", name=re.compile("login", re.I)).click()


# --------------------------------------------------------------------------- rendering, without a browser


def _passage(text: str, start: int = 100) -> Passage:
    return Passage(text=text, score=0.9, doc_id="d1", title="<b>T</b>", chunk_id="d1:00000", start=start,
                   end=start + len(text), paragraph=2, source="x.md", language="en")


def test_highlight_marks_the_document_span_inside_the_passage_and_escapes_the_rest() -> None:
    passage = _passage("Alpha <i>beta</i>. The city is built by 2035. Omega & co.")
    lo = passage.text.index("The city")
    hi = passage.text.index("2035.") + 5
    html_text = highlight_span(passage, passage.start + lo, passage.start + hi, passage.text[lo:hi])
    assert "<mark>The city is built by 2035.</mark>" in html_text
    assert "&lt;i&gt;beta&lt;/i&gt;" in html_text and "&amp; co." in html_text
    assert "<i>" not in html_text


def test_highlight_falls_back_to_the_quote_when_offsets_do_not_fit() -> None:
    passage = _passage("One. Two is here. Three.")
    html_text = highlight_span(passage, 0, 5, "Two is here.")
    assert html_text == "One. <mark>Two is here.</mark> Three."


def test_every_span_quoted_under_one_marker_is_marked() -> None:
    passage = _passage("First claim. Filler <u>here</u>. Second claim.")
    spans = [(passage.start + passage.text.index("Second"), passage.start + len(passage.text), "Second claim."),
             (passage.start, passage.start + 12, "First claim."), (0, 3, "not in the passage")]
    assert highlight_spans(passage, spans) == ("<mark>First claim.</mark> Filler &lt;u&gt;here&lt;/u&gt;. "
                                               "<mark>Second claim.</mark>")


def test_answer_markup_escapes_text_and_links_only_known_markers() -> None:
    passage = _passage("Built by 2035 <script>x()</script>.")
    citation = Citation(1, passage, "Built by 2035", passage.start, passage.start + 13)
    answer = Answer(text="Built by 2035 [1] <img src=x onerror=alert(1)> [7].", citations=(citation,),
                    passages=(passage,), grounded=True, query="q")
    markup = render_answer(0, answer, "q")
    assert markup.count('class="cite"') == 1 and 'value="src/0/c/1"' in markup
    assert "&#91;7&#93;" in markup and "src/0/c/7" not in markup  # a marker with no citation stays text
    assert "<img" not in markup and "<script>" not in markup and "&#60;img src=x" in markup
    assert "&#60;b&#62;T&#60;/b&#62;" in markup  # the title in the sources list is escaped too


def test_refusal_markup_has_the_badge_and_nearest_passages() -> None:
    passage = _passage("Something nearby.")
    answer = Answer(text="The corpus does not cover this.", citations=(), passages=(passage,), grounded=False)
    markup = render_answer(3, answer)
    assert REFUSAL_BADGE in markup and "answer refusal" in markup
    assert 'value="src/3/p/0"' in markup


def test_an_upload_says_whom_it_waits_for_while_another_process_writes(tmp_path: Path, embedder: Embedder) -> None:
    from assistant.web import WebApp

    settings = Settings(data_dir=tmp_path / "data", collection="waiting", auto_index_corpus=False)
    web = WebApp(Assistant(settings, embedder=embedder), settings)
    upload = tmp_path / "ferry.txt"
    upload.write_text("Ferry notice\n\nThe ferry office opens at nine each weekday.\n", encoding="utf-8")
    holder = hold_in_other_process(settings.data_dir, 2)
    told: list[str] = []
    try:
        [(name, result)] = web.add_files([str(upload)], waiting=told.append)
    finally:
        holder.wait()
    assert (name, result.status) == ("ferry.txt", "added")
    assert len(told) == 1 and f"process {holder.pid}" in told[0]


def test_documents_table_escapes_titles_and_hides_delete_from_non_admins() -> None:
    from assistant.documents import StoredDocument

    doc = StoredDocument("abc", "<img src=x onerror=alert(1)>", "/srv/x/evil.md", "en", 2, "2025-01-01T00:00:00",
                         "h", {"kind": "law", "date": "2024-03-05"})
    table = render_documents([doc], manage=True)
    assert "<img" not in table and "/srv/x" not in table and "evil.md" in table
    assert "2024-03-05" in table and ">law<" in table and "table-scroll" in table
    assert "delete-doc" in table and "view-doc" in table
    assert "delete-doc" not in render_documents([doc], manage=False)


def test_empty_documents_table_only_invites_uploads_from_those_who_may_upload() -> None:
    assert "upload some" in render_documents([], manage=True)
    assert "upload some" not in render_documents([], manage=False)
    assert "upload some" not in render_documents([], manage=False, read_only=True)


def test_history_holds_finished_turns_only() -> None:
    answer = Answer(text="By 2035 [1].", citations=(), passages=(), grounded=True)
    history = history_of([Turn("When?", answer), Turn("And then?")])
    assert history == [{"role": "user", "content": "When?"}, {"role": "assistant", "content": "By 2035 [1]."}]


def test_auth_and_admin_settings_are_parsed_strictly() -> None:
    assert parse_auth("alice:a:b, bob:pw") == [("alice", "a:b"), ("bob", "pw")]
    assert parse_auth(None) == []
    with pytest.raises(ValueError, match="not 'user:password'"):
        parse_auth("alice")
    assert parse_admins(" alice, ,bob ") == {"alice", "bob"}


def test_every_quote_under_a_marker_is_listed_with_its_source() -> None:
    """Defect 7: only the first quote of a marker cited twice was listed under the answer."""
    passage = _passage("First claim here. Filler. Second claim here.")
    first = Citation(1, passage, "First claim here.", passage.start, passage.start + 17)
    second = Citation(1, passage, "Second claim here.", passage.start + 26, passage.start + 44)
    answer = Answer(text="First claim here. [1] Second claim here. [1]", citations=(first, second),
                    passages=(passage,), grounded=True)
    markup = render_answer(0, answer, "q")
    assert "First claim here." in markup.split('class="sources"')[1]
    assert "Second claim here." in markup.split('class="sources"')[1]


def test_sources_are_shown_by_file_name_or_url_never_by_server_path() -> None:
    from assistant.web.render import display_source

    assert display_source("/srv/app/corpus/law.md") == "law.md"
    assert display_source("C:\\data\\corpus\\law.md") == "law.md"
    assert display_source("https://www.gov.cn/zhengce/2024.htm") == "https://www.gov.cn/zhengce/2024.htm"


def test_a_quote_in_another_language_gets_a_labelled_gloss_and_same_language_none() -> None:
    zh = Passage(text="国家对长江流域重点水域实行严格捕捞管理。", score=0.9, doc_id="d1", title="长江保护法",
                 chunk_id="d1:0", start=0, end=20, language="zh")
    citation = Citation(1, zh, zh.text, 0, len(zh.text))
    answer = Answer(text=f"{zh.text} [1]", citations=(citation,), passages=(zh,), grounded=True, language="en")
    glossed = render_answer(0, answer, "What does the law say about fishing?", "en", Assistant.gloss)
    assert 'class="gloss"' in glossed and "not a translation" in glossed
    assert "(to fish for" in glossed or "fish" in glossed.split('class="gloss"')[1]
    same = Answer(text=f"{zh.text} [1]", citations=(citation,), passages=(zh,), grounded=True, language="zh")
    assert 'class="gloss"' not in render_answer(0, same, "长江怎么捕捞？", "zh", Assistant.gloss)


def test_examples_are_made_from_titles_and_headings() -> None:
    from assistant.documents import StoredDocument
    from assistant.web.render import example_questions

    law = StoredDocument("a1", "Quokka Protection Act: full text", "q.md", "en", 3, "2025", "h", {})
    report = StoredDocument("b2", "2024年政府工作报告", "r.md", "zh", 9, "2025", "h", {})
    examples = example_questions([law, report], {"a1": ["Chapter 2 Habitats"], "b2": []}, "en")
    assert examples == ["What are the main points of 2024年政府工作报告?",
                        "What does Quokka Protection Act say about Chapter 2 Habitats?"]
    assert example_questions([report], {}, "zh") == ["《2024年政府工作报告》的要点是什么？"]


def test_saved_conversations_round_trip_and_stay_bounded() -> None:
    from assistant.web.conversation import SAVED_CONVERSATIONS, Saved

    passage = _passage("The city is built by 2035.")
    citation = Citation(1, passage, "The city is built by 2035.", passage.start, passage.end)
    answer = Answer(text="The city is built by 2035. [1]", citations=(citation,), passages=(passage,),
                    grounded=True, query="When?")
    saved = Saved().put("c1", [Turn("When?", answer), Turn("Unfinished?")])
    restored = Saved.of(json.loads(json.dumps(saved.to_json()))).turns("c1")
    assert restored[0] == Turn("When?", answer)
    assert restored[1].question == "Unfinished?" and restored[1].error == "stopped"
    for n in range(SAVED_CONVERSATIONS + 5):
        saved = saved.put(f"x{n}", [Turn(f"q{n}")])
    assert len(saved.conversations) == SAVED_CONVERSATIONS and saved.conversations[0]["id"] == f"x{n}"
    assert Saved.of("not a dict").conversations == []
    assert Saved.of({"conversations": [{"no": "id"}]}).conversations == []


def test_export_numbers_citations_across_the_conversation(tmp_path: Path) -> None:
    from assistant.web.export import to_docx, to_markdown

    passage = _passage("The city is built by 2035.")
    cite = Citation(1, passage, "The city is built by 2035.", passage.start, passage.end)
    answer = Answer(text="Built by 2035. [1]", citations=(cite,), passages=(passage,), grounded=True)
    turns = [Turn("When?", answer), Turn("Again?", answer)]
    markdown = to_markdown(turns, "en")
    assert "Built by 2035. [^1]" in markdown and "Built by 2035. [^2]" in markdown
    assert "[^2]: <b>T</b>, ¶2, x.md: “The city is built by 2035.”" in markdown
    notes = docx_footnotes(to_docx(turns, "en", tmp_path / "c.docx"))
    assert notes == [" <b>T</b>, ¶2, x.md: “The city is built by 2035.”"] * 2


def test_a_submission_repeated_as_its_answer_ends_is_dropped_and_a_later_one_answered(
        corpus_assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Enter and Ask together, with a quick answer: the browser sent the second submission after the first ended."""
    import assistant.web.handlers as handlers

    web = WebApp(corpus_assistant, corpus_assistant.settings)
    options = (None, None, None, False, "en", None)  # scope, passages, mode, across, interface, saved

    def submit(turns: list[Turn], conversation: str = "") -> tuple[list[Turn], str] | None:
        """The conversation's turns after the answer and its id, or None when the submission was dropped."""
        made = list(web.respond(EN_QUESTION, turns, *options, conversation))
        grown = [out[1] for out in made if isinstance(out[1], list)]
        return (grown[-1], made[0][3]) if grown else None

    first = submit([])
    assert first is not None
    turns, conversation = first
    assert len(turns) == 1 and turns[0].answer is not None and turns[0].answer.grounded
    assert submit(turns, conversation) is None  # the same question a moment later, with the first turn in its history
    assert submit([]) is not None  # New chat, then the same question at once: a new conversation, answered
    retried = [out[1] for out in web.retry(turns, *options, conversation) if isinstance(out[1], list)]
    assert len(retried[-1]) == 1  # Retry at once is meant, and answered anew
    monkeypatch.setattr(handlers, "REPEAT_WINDOW", 0.0)  # asked again after a human's pause: a new turn
    again = submit(turns, conversation)
    assert again is not None and len(again[0]) == 2


def test_filter_controls_become_the_services_keyword_arguments() -> None:
    blank = {"since": None, "until": None, "kind": None, "issuer": None, "language": None}
    assert document_filters("", "  ", [], " ", "") == blank
    assert document_filters(" 2020", "2024-03", ["law", ""], " 国务院 ", "zh") == {
        "since": "2020", "until": "2024-03", "kind": ["law"], "issuer": "国务院", "language": "zh"}


def test_saving_details_corrects_only_what_changed_and_a_bad_value_changes_nothing(make_assistant,
                                                                                  tmp_path: Path) -> None:
    assistant = make_assistant()
    first, _ = assistant.add(*dated_reports(tmp_path))
    web = WebApp(assistant, assistant.settings)
    title, date, kind, issuer = web.details_of(first.doc_id)
    assert (date, kind) == ("2018-03-05", "work report")
    assert "Nothing changed" in web.save_details(first.doc_id, title, date, kind, issuer, "en")
    assert "corrections" not in assistant.document(first.doc_id).metadata
    saved = web.save_details(first.doc_id, title, "2017", "speech", issuer, "zh")
    assert "已保存" in saved and "2017" in saved
    assert assistant.document(first.doc_id).metadata["corrections"] == {"date": "2017", "kind": "speech"}
    refused = web.save_details(first.doc_id, title, "2017-13-01", "speech", issuer, "en")
    assert "notice bad" in refused and "2017-13-01" in refused
    assert assistant.document(first.doc_id).metadata["date"] == "2017"
    assert "Choose a document" in web.save_details(None, "", "", None, "", "en")
    assert web.details_of("0" * 12) == ("", "", None, "")


def test_exported_footnotes_name_the_source_file_never_the_server_path(tmp_path: Path) -> None:
    """Defect 5 in the exports: a footnote named the file by its path on the server."""
    from dataclasses import replace

    from assistant.web.export import to_docx, to_markdown

    passage = replace(_passage("The city is built by 2035."), source="/srv/app/corpus/x.md")
    cite = Citation(1, passage, "The city is built by 2035.", passage.start, passage.end)
    turns = [Turn("When?", Answer(text="Built by 2035. [1]", citations=(cite,), passages=(passage,), grounded=True))]
    markdown = to_markdown(turns, "en")
    assert "x.md" in markdown and "/srv/app" not in markdown
    notes = docx_footnotes(to_docx(turns, "en", tmp_path / "c.docx"))
    assert notes == [" <b>T</b>, ¶2, x.md: “The city is built by 2035.”"]
