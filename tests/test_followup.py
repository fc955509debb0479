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


FISHING_ZH_HISTORY = [
    {"role": "user", "content": "长江流域禁渔期是多久？"},
    {"role": "assistant", "content": "根据资料：……[1]"},
]


# A question that names its own subject stays as asked, however short; one whose subject is in an earlier
# turn (an opener, a pointer back, a bare predicate) is a follow-up.
@pytest.mark.parametrize("question", [
    "How should cadres learn?",  # the user trial: merged with the previous question and answered with its answer
    "What is dual carbon?",
    "What is the population of Yichang?",
    "Are there penalties for illegal fishing in the Yangtze?",  # "there" points at nothing
    "What is the law that protects the Yangtze River?",  # a relative "that" has its antecedent before it
    "Who enforces the fishing ban?",
    "干部应该如何学习？",  # the 该 of 应该 is no pointer
    "干部该怎么学习？",  # nor is the modal 该 after the subject
    "长江流域禁渔期是多久？",
    "宜昌的人口是多少？",
    "什么是双碳？",
    "那曲的海拔是多少？",  # 那 starts a place name here, not the question
    "干部犯了错误，他们该怎么办？",  # 他们 has its antecedent, 干部, in the question
    "违反禁渔规定的话怎么处罚？",  # the conditional names what is violated
])
def test_questions_naming_their_own_subject_are_standalone(question: str) -> None:
    assert not is_followup(question)


@pytest.mark.parametrize("question", [
    "What are the penalties?", "How many stages?", "When does it start?", "How much is the fine for that?",
    "Why is that?", "What does it cost?",
    "违反的话怎么处罚？",  # the user trial: searched as it stood
    "如果违反的话会怎样？", "怎么处罚？", "罚多少？", "什么时候开始？", "违法怎么处罚？", "那渔民呢？",
    "这个怎么执行？", "该规定什么时候生效？", "这项工作由谁负责？",
    "罚款呢？", "长江大保护典范城市的第二阶段呢？",  # "…呢？" asking nothing itself is "what about …?"
])
def test_questions_leaning_on_an_earlier_subject_are_follow_ups(question: str) -> None:
    assert is_followup(question)


def test_a_standalone_question_after_another_is_searched_as_asked() -> None:
    assert standalone_query("How should cadres learn?", HISTORY) == "How should cadres learn?"
    assert standalone_query("干部应该如何学习？", FISHING_ZH_HISTORY) == "干部应该如何学习？"


def test_a_bare_chinese_conditional_gets_the_previous_subject() -> None:
    query = standalone_query("违反的话怎么处罚？", FISHING_ZH_HISTORY)
    assert query.endswith("违反的话怎么处罚？")
    assert "长江" in query and "禁渔" in query


def test_chinese_chain_of_follow_ups_walks_back_to_the_subject() -> None:
    history = [*FISHING_ZH_HISTORY, {"role": "user", "content": "违反的话怎么处罚？"},
               {"role": "assistant", "content": "根据资料：……[1]"}]
    query = standalone_query("罚多少？", history)
    assert query.endswith("罚多少？")
    assert "禁渔" in query and "处罚" in query


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
