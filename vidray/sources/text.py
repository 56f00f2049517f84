"""The text helpers of sources: a record's fields checked, conversations built, and
multiple-choice questions lettered. Each raises ``BadAnnotation`` on what it cannot use."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from vidray.records import Conversation
from vidray.sources.base import BadAnnotation

IMAGE_TOKEN = "<image>\n"


def single_turn(row_id: str, question: str, answer: str) -> Conversation:
    """The recipe's record: the human turn starts with ``<image>\\n``."""
    return Conversation(row_id, (("human", IMAGE_TOKEN + question), ("gpt", answer)), question)


def require_text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadAnnotation(f"{name} is missing or empty")
    return value.strip()


def require(record: Any, key: str, kind: type | tuple[type, ...] = str) -> Any:
    """``record[key]`` when it is a non-empty ``kind``; else ``BadAnnotation``."""
    if not isinstance(record, dict):
        raise BadAnnotation(f"record is a {type(record).__name__}, not an object")
    value = record.get(key)
    if isinstance(value, str):
        value = value.strip()
    if not isinstance(value, kind) or (isinstance(value, str | list | dict) and not value):
        raise BadAnnotation(f"{key!r} is missing, empty or not a {_kind_name(kind)}")
    return value


def require_number(record: Any, key: str) -> float:
    """``record[key]`` as a finite float (numbers or numeric strings)."""
    if not isinstance(record, dict):
        raise BadAnnotation(f"record is a {type(record).__name__}, not an object")
    value = record.get(key)
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadAnnotation(f"{key!r} is missing or not a number: {value!r}") from None
    if not math.isfinite(number):
        raise BadAnnotation(f"{key!r} is not finite: {value!r}")
    return number


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def answer_text(record: Any, key: str) -> str:
    """An open answer: text, or a number (counting questions) written as text."""
    value = record.get(key) if isinstance(record, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    return require(record, key)


_MEDIA_TOKEN = re.compile(r"\s*<(?:video|image)>\s*")


def strip_media_tokens(text: str) -> str:
    """``text`` without the datasets' own ``<video>`` / ``<image>`` tokens, wherever they
    sit: vidray puts its own token at the start of the first human turn."""
    return _MEDIA_TOKEN.sub(" ", text).strip()


def dialogue_pairs(turns: Any) -> list[tuple[str, str]]:
    """The (question, answer) pairs of a sharegpt ``conversations`` list: human and gpt
    turns alternating, each with text once its media tokens are removed."""
    if not isinstance(turns, list) or not turns:
        raise BadAnnotation("'conversations' is missing, empty or not a list")
    if len(turns) % 2:
        raise BadAnnotation(f"{len(turns)} turns: not (human, gpt) pairs")
    texts = []
    for k, turn in enumerate(turns):
        role = "human" if k % 2 == 0 else "gpt"
        if not isinstance(turn, dict) or turn.get("from") != role:
            got = turn.get("from") if isinstance(turn, dict) else type(turn).__name__
            raise BadAnnotation(f"turn {k} is from {got!r}, expected {role!r}")
        value = turn.get("value")
        text = strip_media_tokens(value) if isinstance(value, str) else ""
        if not text:
            raise BadAnnotation(f"turn {k} has no text besides media tokens")
        texts.append(text)
    return list(zip(texts[::2], texts[1::2], strict=True))


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def option_index(options: Sequence[str], answer: str) -> int:
    """The index of the option whose text is ``answer`` (whitespace and case ignored)."""
    want = " ".join(answer.split()).casefold()
    for i, option in enumerate(options):
        if " ".join(str(option).split()).casefold() == want:
            return i
    raise BadAnnotation(f"answer {answer!r} is none of the {len(options)} options")


def render_choice(
    template: str, question: str, options: Sequence[str], correct: Sequence[int]
) -> tuple[str, str]:
    """(prompt, answer) of a multiple-choice question: the options lettered ``A.``,
    ``B.``, ... inside ``template``; the answer is each correct letter with its text."""
    if not options:
        raise BadAnnotation("multiple-choice question without options")
    if len(options) > len(LETTERS):
        raise BadAnnotation(f"{len(options)} options; at most {len(LETTERS)} can be lettered")
    texts = [" ".join(str(o).split()) for o in options]
    if any(not t for t in texts):
        raise BadAnnotation("an option is empty")
    if not correct:
        raise BadAnnotation("no option is marked correct")
    for i in correct:
        if not 0 <= i < len(texts):
            raise BadAnnotation(f"answer index {i} is outside the {len(texts)} options")
    lines = "\n".join(f"{LETTERS[i]}. {t}" for i, t in enumerate(texts))
    answer = "\n".join(f"{LETTERS[i]}. {texts[i]}" for i in sorted(set(correct)))
    return template.format(question=question, options=lines), answer
