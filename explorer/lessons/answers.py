"""Checking a typed answer: read the text, compare it with the core's value, and say so in words.

A question has one or more parts. Each part knows how to read what a student typed and how to
judge it, and returns a ``Verdict``: right, wrong, or unreadable, with a message for the student.
Numbers are read with the panels' own ``parse_number`` ("81", "0.6561", "1e-3", "524,288");
vectors are numbers separated by commas, semicolons or spaces, in brackets or not ("1.2, 1.6",
"[1.2, 1.6]"). The expected values are not written here: each part is given a function that asks
``explorer.core`` for them, called the first time they are needed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal, TypeVar, cast

from explorer.panels.number import parse_number
from explorer.plots.style import format_number

Status = Literal["right", "wrong", "unreadable"]
MAX_ANSWER = 400  # characters: longer text is refused before it is read
MAX_COMPONENTS = 16  # numbers in a vector answer
T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    """What the checker says about one typed answer."""

    status: Status
    message: str

    @property
    def right(self) -> bool:
        """Whether the answer was accepted."""
        return self.status == "right"


@dataclass(frozen=True)
class Tolerance:
    """How close a typed number must be: within ``rel`` of the expected size, or ``abs``."""

    rel: float = 0.0
    abs: float = 0.0

    def allows(self, error: float, size: float) -> bool:
        """Whether an error of ``error`` is acceptable for an expected value of size ``size``."""
        return error <= max(self.rel * size, self.abs)

    def describe(self) -> str:
        """The tolerance in words, as the student sees it ("within 0.1%")."""
        words = []
        if self.rel:
            words.append(f"{self.rel * 100:g}%")
        if self.abs:
            words.append(f"{self.abs:g}")
        return "exactly" if not words else "within " + " or ".join(words)


def parse_vector(text: str) -> tuple[float, ...]:
    """Numbers typed as a vector: '1.2, 1.6', '[1.2, 1.6]', '(1.2; 1.6)' or '1.2 1.6'.

    Raises ValueError, saying what went wrong, for anything else."""
    if not isinstance(text, str):
        raise ValueError(f"expected typed text, got {type(text).__name__}")
    if len(text) > MAX_ANSWER:
        raise ValueError(f"{text.strip()[:20]!r}… is too long to be a vector")
    inner = text.strip()
    if inner[:1] in "[(" and inner[-1:] in "])":
        inner = inner[1:-1]
    items = [item for item in re.split(r"[,;\s]+", inner.strip()) if item]
    if not items:
        raise ValueError("nothing typed: type the numbers separated by commas, like 1.2, 1.6")
    if len(items) > MAX_COMPONENTS:
        raise ValueError(f"{len(items)} numbers is more than any answer here has")
    return tuple(parse_number(item) for item in items)


def written(value: float, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, as the readouts write numbers (524,288)."""
    if digits <= 4 or value == int(value):
        return format_number(value)
    return f"{value:.{digits}g}"


def _unreadable(text: str, error: ValueError, example: str) -> Verdict:
    shown = text.strip()[:40] or "(nothing)"
    return Verdict("unreadable", f"Could not read {shown!r}: {error}. Type {example}.")


@dataclass(frozen=True)
class NumberPart:
    """A part whose answer is one number, the core's, accepted within ``tolerance``."""

    key: str  # names the part in the worked answer's text
    prompt: str
    expected: Callable[[], float]
    tolerance: Tolerance
    example: str = "a number like 0.25 or 1e-3"
    digits: int = 4  # significant digits in the worked answer

    @property
    def value(self) -> float:
        """The expected value (computed by the core once)."""
        return _cached(self.expected)

    def shown(self) -> str:
        """The expected value as the worked answer writes it."""
        return written(self.value, self.digits)

    def check(self, text: str) -> Verdict:
        """Judge the typed text against the core's value."""
        try:
            typed = parse_number(text)
        except ValueError as error:
            return _unreadable(text, error, self.example)
        expected = self.value
        if self.tolerance.allows(abs(typed - expected), abs(expected)):
            return Verdict(
                "right", f"Right: {format_number(typed)} is correct (checked {self._range()})."
            )
        side = "too high" if typed > expected else "too low"
        return Verdict(
            "wrong",
            f"Not yet: {format_number(typed)} is {side} (the answer is accepted {self._range()}).",
        )

    def _range(self) -> str:
        return f"{self.tolerance.describe()} of the core's value"


@dataclass(frozen=True)
class VectorPart:
    """A part whose answer is a vector; accepted when the error's length is within ``tolerance``
    of the expected vector's length."""

    key: str
    prompt: str
    expected: Callable[[], Iterable[float]]
    tolerance: Tolerance
    example: str = "the numbers separated by commas, like 1.2, 1.6"
    digits: int = 4  # significant digits in the worked answer

    @property
    def value(self) -> tuple[float, ...]:
        """The expected vector (computed by the core once)."""
        return tuple(float(x) for x in _cached(self.expected))

    def shown(self) -> str:
        """The expected vector as the worked answer writes it."""
        return "[" + ", ".join(written(x, self.digits) for x in self.value) + "]"

    def check(self, text: str) -> Verdict:
        """Judge the typed vector against the core's, component by component."""
        try:
            typed = parse_vector(text)
        except ValueError as error:
            return _unreadable(text, error, self.example)
        expected = self.value
        if len(typed) != len(expected):
            return Verdict(
                "wrong", f"Not yet: the answer has {len(expected)} numbers, you typed {len(typed)}."
            )
        distance = math.dist(typed, expected)
        typed_text = "[" + ", ".join(format_number(x) for x in typed) + "]"
        tolerance = f"{self.tolerance.describe()} of the core's vector's length"
        if self.tolerance.allows(distance, math.hypot(*expected)):
            return Verdict("right", f"Right: {typed_text} is correct (checked {tolerance}).")
        return Verdict(
            "wrong", f"Not yet: {typed_text} is off (the answer is accepted {tolerance})."
        )


@dataclass(frozen=True)
class ChoicePart:
    """A part whose answer is one of ``options``; the right one is decided from the core's
    numbers by ``expected``."""

    key: str
    prompt: str
    options: tuple[str, ...]
    expected: Callable[[], str]

    @property
    def value(self) -> str:
        """The right option (decided once)."""
        return _cached(self.expected)

    def shown(self) -> str:
        """The right option as the worked answer writes it."""
        return self.value

    def check(self, text: str | None) -> Verdict:
        """Judge the chosen option."""
        if text is None or text not in self.options:
            return Verdict("unreadable", "Choose one of the options first.")
        if text == self.value:
            return Verdict("right", "Right.")
        return Verdict(
            "wrong", "Not yet: that is not the best answer. Look again, or take the hint."
        )


@dataclass(frozen=True)
class PropertyPart:
    """A part whose answer is a number with a property the core tests ("a weight at which the
    gradient stays the same at every layer"); ``test`` returns whether it holds and why."""

    key: str
    prompt: str
    test: Callable[[float], tuple[bool, str]]
    example_answer: Callable[[], float]  # one value that has the property, for the worked answer
    criterion: str  # what is tested, in words shown to the student
    example: str = "a number like 0.25 or 1e-3"

    @property
    def value(self) -> float:
        """A value with the property (computed once)."""
        return _cached(self.example_answer)

    def shown(self) -> str:
        """The example value as the worked answer writes it."""
        return format_number(self.value)

    def check(self, text: str) -> Verdict:
        """Test the typed number with the core."""
        try:
            typed = parse_number(text)
        except ValueError as error:
            return _unreadable(text, error, self.example)
        try:
            holds, reason = self.test(typed)
        except ValueError as error:  # the core refused the value: say why, in the part's words
            return Verdict("wrong", f"Not yet: {refused_words(typed, error)}")
        if holds:
            return Verdict("right", f"Right: {reason} (checked: {self.criterion}).")
        return Verdict("wrong", f"Not yet: {reason} (needed: {self.criterion}).")


Part = NumberPart | VectorPart | ChoicePart | PropertyPart


def refused_words(typed: float, error: ValueError) -> str:
    """Why the core refused ``typed``, in words without the core's argument name (what the
    value must be, as the core's message says)."""
    message = str(error)
    allowed = message.partition(" must be ")[2].partition(", got")[0]
    reason = f": the value must be {allowed}" if allowed else ""
    return f"{format_number(typed)} cannot be used here{reason}."


@dataclass(frozen=True)
class Question:
    """One exercise: its text, its parts, a hint and a worked answer.

    ``worked`` is a format string: ``{key}`` is replaced by the part's expected value as the core
    computed it, so the worked answer never states a number the core did not give."""

    id: str
    title: str
    text: str
    parts: tuple[Part, ...]
    hint: str
    worked: str
    source: str = ""  # where the question comes from, in words

    def part(self, key: str) -> Part:
        """The part named ``key``."""
        for part in self.parts:
            if part.key == key:
                return part
        raise ValueError(f"question {self.id} has no part {key!r}; it has {self.keys()}")

    def keys(self) -> list[str]:
        """The parts' keys, in order."""
        return [part.key for part in self.parts]

    def check(self, key: str, text: str | None) -> Verdict:
        """Judge the answer typed (or chosen) for part ``key``."""
        part = self.part(key)
        if isinstance(part, ChoicePart):
            return part.check(text)
        if not isinstance(text, str):
            return Verdict("unreadable", "Type an answer first.")
        return part.check(text)

    def worked_answer(self) -> str:
        """The worked answer, with the core's values put in."""
        return self.worked.format(**{part.key: part.shown() for part in self.parts})


@cache
def _compute(function: Callable[[], object]) -> object:
    return function()


def _cached(function: Callable[[], T]) -> T:
    """``function()``, computed once per function (the core's answers do not change)."""
    return cast(T, _compute(function))
