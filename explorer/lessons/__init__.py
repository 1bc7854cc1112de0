"""Lessons with checked exercises: the questions as data, a checker, and an exercise widget.

``LESSONS`` maps each lesson notebook (notebooks/lessons/0N_*.ipynb) to its questions: the five
"Test your understanding" questions of the exploding-gradient article (``article.py``) and the
lessons' own (``topics.py``). ``exercise(id)`` is the widget a notebook displays where the student
should predict before running. Every expected value is computed by ``explorer.core``.
"""

from explorer.lessons.answers import (
    ChoicePart,
    NumberPart,
    Part,
    PropertyPart,
    Question,
    Tolerance,
    VectorPart,
    Verdict,
    parse_vector,
)
from explorer.lessons.article import QUESTIONS as ARTICLE_QUESTIONS
from explorer.lessons.exercise import Exercise
from explorer.lessons.topics import (
    CLIFF_STEP,
    CLIP_RULES,
    DEEP_TWENTY,
    PHASE_CRITICAL,
    RECURRENT_BOUND,
    SPECTRA_ORTHOGONAL,
    TRAINING_CLIPPED,
    TRAINING_OPTIMIZERS,
)

_Q1, _Q2, _Q3, _Q4, _Q5 = ARTICLE_QUESTIONS

LESSONS: dict[int, tuple[Question, ...]] = {
    1: (_Q1, DEEP_TWENTY),
    2: (_Q3, RECURRENT_BOUND),
    3: (SPECTRA_ORTHOGONAL, PHASE_CRITICAL),
    4: (_Q2, _Q4, CLIP_RULES, CLIFF_STEP),
    5: (_Q5, TRAINING_CLIPPED, TRAINING_OPTIMIZERS),
}
QUESTIONS = {question.id: question for lesson in LESSONS.values() for question in lesson}


def question(question_id: str) -> Question:
    """The question ``question_id`` ("article-1", "clip-rules", …)."""
    if question_id not in QUESTIONS:
        raise ValueError(f"no question {question_id!r}; there are {', '.join(QUESTIONS)}")
    return QUESTIONS[question_id]


def exercise(question_id: str) -> Exercise:
    """The exercise widget of question ``question_id``."""
    return Exercise(question(question_id))


__all__ = [
    "ARTICLE_QUESTIONS",
    "LESSONS",
    "QUESTIONS",
    "ChoicePart",
    "Exercise",
    "NumberPart",
    "Part",
    "PropertyPart",
    "Question",
    "Tolerance",
    "VectorPart",
    "Verdict",
    "exercise",
    "parse_vector",
    "question",
]
