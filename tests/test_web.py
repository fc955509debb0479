"""The web chat in a real browser (Playwright driving Chromium) against the real app and a real store.

Each browser test starts from the page as a user sees it and does what a user does: clicks an
example, clicks a citation marker, uploads files, deletes with confirmation, signs in. The pure
rendering helpers get a few fast tests of their own (escaping, highlighting), without a browser.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from conftest import hold_in_other_process, remove_by_source, require_marker, running_app
from playwright.sync_api import Browser, FilePayload, Locator, Page, expect, sync_playwright
from test_web_api import assert_nothing_escaped, read_only_app, snapshot

from assistant.documents import Answer, Citation, Passage
from assistant.embedding import Embedder
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.web import (
    EXAMPLES,
    READ_ONLY_NOTE,
    REFUSAL_BADGE,
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

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT = 60_000  # ms; the first answer loads the answering stack
EN_QUESTION, ZH_QUESTION = EXAMPLES[0], EXAMPLES[1]
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
    page.goto(url)
    page.wait_for_selector("#conversation .conversation")
    page.wait_for_selector("#question textarea")


def turns(page: Page) -> Locator:
    return page.locator("#conversation .turn")


def wait_for_answer(page: Page, count: int) -> Locator:
    """Wait until the conversation holds ``count`` finished turns; the last turn's answer."""
    page.wait_for_function(
        "n => document.querySelectorAll('#conversation .turn').length === n && "
        "!document.querySelector('#conversation .answer.pending')", arg=count)
    return turns(page).nth(count - 1).locator(".answer")


def ask(page: Page, question: str) -> Locator:
    count = turns(page).count()
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
    page.wait_for_selector("#conversation .conversation")


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
def test_example_question_answers_with_a_marker_that_opens_the_highlighted_span(
        page: Page, served: tuple[str, Assistant]) -> None:
    url, _ = served
    open_app(page, url)
    expect(page.get_by_role("button", name=EN_QUESTION)).to_be_visible()
    page.get_by_role("button", name=EN_QUESTION).click()
    answer = wait_for_answer(page, 1)
    expect(answer).to_have_class(re.compile(r"\bgrounded\b"))
    assert turns(page).first.locator(".question").inner_text() == EN_QUESTION
    expect(page.locator("#examples")).to_be_hidden()  # examples are for the first question

    marker = answer.locator("button.cite").first
    expect(marker).to_be_visible()
    number = marker.inner_text()
    assert re.fullmatch(r"\[\d+\]", number)
    assert answer.locator(".sources button.source").count() >= 1
    marker.click()
    mark = page.locator("#source-panel mark")
    expect(mark).to_contain_text("2035")
    panel = page.locator("#source-panel")
    expect(panel).to_contain_text(f"Source {number}")
    expect(panel).to_contain_text("Continue to break the ice")  # the document's title
    expect(panel).to_contain_text("yichang-model-city-commentary.md")  # its source
    expect(panel).to_contain_text("English (en)")  # its language
    # the marked span is exactly a stretch of the full passage shown around it
    passage = panel.locator("blockquote.passage").inner_text()
    assert mark.inner_text() in passage and len(passage) > len(mark.inner_text())


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
    page.get_by_role("button", name=ZH_QUESTION).click()
    answer = wait_for_answer(page, 1)
    expect(answer).to_have_attribute("lang", "zh")
    assert CJK.search(answer.locator(".answer-text").inner_text())
    if "grounded" in (answer.get_attribute("class") or ""):
        answer.locator("button.cite").first.click()
        expect(page.locator("#source-panel mark")).to_be_visible()
    else:
        expect(answer.locator(".badge")).to_have_text(REFUSAL_BADGE)


@pytest.mark.browser
def test_refusal_is_marked_and_still_shows_the_nearest_passages(page: Page, served: tuple[str, Assistant]) -> None:
    open_app(page, served[0])
    answer = ask(page, "What is the price of green tea in Lima's central market?")
    expect(answer).to_have_class(re.compile(r"\brefusal\b"))
    expect(answer.locator(".badge")).to_have_text(REFUSAL_BADGE)
    assert answer.locator("button.cite").count() == 0
    nearest = answer.locator(".sources button.source")
    assert nearest.count() >= 1
    expect(answer.locator(".sources-title")).to_have_text("Nearest passages")
    nearest.first.click()
    panel = page.locator("#source-panel")
    expect(panel.locator(".panel-kicker")).to_contain_text("Nearest passage 1")
    expect(panel.locator("blockquote.passage")).not_to_be_empty()
    expect(panel.locator("mark")).to_have_count(0)  # nothing supports an answer, so nothing is marked


@pytest.mark.browser
def test_follow_up_question_is_answered_with_the_history(page: Page, served: tuple[str, Assistant]) -> None:
    open_app(page, served[0])
    ask(page, EN_QUESTION)
    follow_up = ask(page, "And in how many stages?")
    searched = follow_up.locator(".searched")
    expect(searched).to_be_visible()  # the follow-up was rewritten with the earlier question's subject
    assert "model" in searched.inner_text().lower()


@pytest.mark.browser
def test_new_chat_clears_the_conversation(page: Page, served: tuple[str, Assistant]) -> None:
    open_app(page, served[0])
    ask(page, EN_QUESTION)
    page.locator("#conversation button.cite").first.click()
    expect(page.locator("#source-panel mark")).to_be_visible()
    page.click("#new-chat")
    expect(page.locator("#conversation .empty-state")).to_be_visible()
    expect(turns(page)).to_have_count(0)
    expect(page.locator("#examples")).to_be_visible()
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
                assert_inert(page, ["#conversation", "#source-panel"])
        go_to_documents(page)
        assert_inert(page, ["#conversation", "#source-panel", "#documents-table"])
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
        page.wait_for_selector("#conversation .conversation")
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
        page.wait_for_selector("#conversation .conversation")
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
    assert markup.count('class="cite"') == 1 and 'data-index="1"' in markup
    assert "[7]" in markup and 'data-index="7"' not in markup  # a marker with no citation stays text
    assert "<img" not in markup and "<script>" not in markup and "&lt;img src=x" in markup
    assert "&lt;b&gt;T&lt;/b&gt;" in markup  # the title in the sources list is escaped too


def test_refusal_markup_has_the_badge_and_nearest_passages() -> None:
    passage = _passage("Something nearby.")
    answer = Answer(text="The corpus does not cover this.", citations=(), passages=(passage,), grounded=False)
    markup = render_answer(3, answer)
    assert REFUSAL_BADGE in markup and "answer refusal" in markup
    assert 'data-kind="p" data-turn="3" data-index="0"' in markup


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

    doc = StoredDocument("abc", "<img src=x onerror=alert(1)>", "evil.md", "en", 2, "2025-01-01T00:00:00", "h", {})
    assert "<img" not in render_documents([doc], manage=True)
    assert "delete-doc" in render_documents([doc], manage=True)
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
