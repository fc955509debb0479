"""Follow-up questions become standalone retrieval queries (heuristics, and an LLM when configured)."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from assistant.followup import is_followup, standalone_query, user_turns
from assistant.llm import condense_with_llm

HISTORY = [
    {"role": "user", "content": "By what year will the model city for the protection of the Yangtze River be built?"},
    {"role": "assistant", "content": "According to the corpus: ... by 2035. [1]"},
]
ZH_HISTORY = [
    {"role": "user", "content": "对“佛系”和“躺平”的干部应当怎么办？"},
    {"role": "assistant", "content": "根据资料：……[1]"},
]


@pytest.mark.parametrize("question", [
    "and by when?", "What about the second stage?", "Who proposed it?", "And who proposed that?",
    "那么什么时候建成？", "他们怎么处理？", "其目标是什么？", "为什么？",
])
def test_short_connective_or_pronoun_questions_are_follow_ups(question: str) -> None:
    assert is_followup(question)


@pytest.mark.parametrize("question", [
    "Which session proposed building a model city for the protection of the Yangtze River?",
    "What must be avoided when formulating detailed implementation plans?",
    "长江大保护典范城市计划在哪一年基本建成？",
])
def test_self_contained_questions_are_not_follow_ups(question: str) -> None:
    assert not is_followup(question)


def test_follow_up_gets_the_previous_subject_and_loses_its_connective() -> None:
    query = standalone_query("and by when?", HISTORY)
    assert query.endswith("by when?")
    assert not query.lower().startswith("and")
    for word in ("model", "city", "Yangtze", "built"):
        assert word in query


def test_chinese_follow_up_gets_the_previous_chinese_subject() -> None:
    query = standalone_query("他们怎么处理？", ZH_HISTORY)
    assert query.endswith("他们怎么处理？")
    assert "干部" in query and "躺平" in query


def test_standalone_question_and_empty_history_are_left_alone() -> None:
    question = "What must be avoided when formulating detailed implementation plans?"
    assert standalone_query(question, HISTORY) == question
    assert standalone_query("and by when?", None) == "and by when?"
    assert standalone_query("and by when?", []) == "and by when?"


def test_chain_of_follow_ups_walks_back_to_the_real_subject() -> None:
    history = [*HISTORY, {"role": "user", "content": "and who proposed it?"},
               {"role": "assistant", "content": "The Third Plenary Session ... [1]"}]
    query = standalone_query("in how many stages?", history)
    assert "model" in query and "proposed" in query and query.endswith("in how many stages?")


def test_user_turns_ignore_non_text_and_the_repeated_current_question() -> None:
    history = [
        {"role": "user", "content": "first question about cadres"},
        {"role": "user", "content": {"path": "upload.pdf"}},  # Gradio file message
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "and then?"},
    ]
    assert user_turns(history, "and then?") == ["first question about cadres"]
    assert user_turns(history) == ["first question about cadres", "and then?"]


def test_llm_condenses_when_configured() -> None:
    model = FakeListChatModel(responses=["When will the model city be built?\n(extra line ignored)"])
    assert condense_with_llm(model, "and by when?", HISTORY, timeout=5) == "When will the model city be built?"


def test_llm_condensing_falls_back_to_the_heuristic_when_the_model_fails() -> None:
    class Broken(GenericFakeChatModel):
        def _generate(self, *args: object, **kwargs: object) -> object:
            raise ConnectionError("model server down")

        def _stream(self, *args: object, **kwargs: object) -> object:
            raise ConnectionError("model server down")

    query = condense_with_llm(Broken(messages=iter([])), "and by when?", HISTORY, timeout=5)
    assert query == standalone_query("and by when?", HISTORY)


def test_llm_condensing_is_skipped_without_history() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="should not be used")]))
    assert condense_with_llm(model, "  What is the population of Yichang? ", [], timeout=5) == \
        "What is the population of Yichang?"
