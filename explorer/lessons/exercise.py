"""The exercise widget: a question, an answer box per part, a verdict, a hint, a worked answer.

Enter in a box (or its Check button) checks that part; the verdict says right or wrong in words
and colour. "Hint" shows the hint; "Show the worked answer" is offered after a first checked
answer or the hint. The elements carry CSS classes (``ge-exercise-*``) that browser tests read.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import ipywidgets as widgets

from explorer.lessons.answers import (
    ChoicePart,
    Part,
    PropertyPart,
    Question,
    VectorPart,
    Verdict,
)

log = logging.getLogger(__name__)

COLOURS = {"right": "#1a7f37", "wrong": "#b42318", "unreadable": "#9a6700"}
MARKS = {"right": "✓", "wrong": "✗", "unreadable": "?"}


def verdict_html(verdict: Verdict) -> str:
    """A verdict as the page shows it: a mark and the message, in the verdict's colour."""
    colour = COLOURS[verdict.status]
    return (
        f"<span class='ge-verdict-{verdict.status}' style='color:{colour}'>"
        f"{MARKS[verdict.status]} {html.escape(verdict.message)}</span>"
    )


def _accepted(part: Part) -> str:
    """What the checker accepts for ``part``, in words shown beside it."""
    if isinstance(part, ChoicePart):
        return ""
    if isinstance(part, PropertyPart):
        return f"checked: {part.criterion}"
    return f"accepted {part.tolerance.describe()}"


class Exercise(widgets.VBox):
    """One question as a widget: ``Exercise(question)``; ``check(key)`` checks a part."""

    def __init__(self, question: Question, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.question = question
        self.inputs: dict[str, widgets.Text | widgets.RadioButtons] = {}
        self.verdicts: dict[str, widgets.HTML] = {}
        self.attempted = False
        heading = widgets.HTML(
            f"<b>Exercise: {html.escape(question.title)}</b>"
            + (f" <i>({html.escape(question.source)})</i>" if question.source else "")
            + f"<div>{html.escape(question.text)}</div>"
        )
        rows: list[widgets.Widget] = [heading]
        for part in question.parts:
            rows.extend(self._part_rows(part))
        self.hint_button = widgets.Button(description="Hint", icon="lightbulb-o")
        self.hint_button.add_class("ge-exercise-hint-button")
        self.hint_button.on_click(lambda _: self.show_hint())
        self.answer_button = widgets.Button(
            description="Show the worked answer",
            layout=widgets.Layout(width="auto", display="none"),
        )
        self.answer_button.add_class("ge-exercise-answer-button")
        self.answer_button.on_click(lambda _: self.show_answer())
        self.hint = widgets.HTML(layout=widgets.Layout(display="none"))
        self.hint.add_class("ge-exercise-hint")
        self.answer = widgets.HTML(layout=widgets.Layout(display="none"))
        self.answer.add_class("ge-exercise-answer")
        rows += [widgets.HBox([self.hint_button, self.answer_button]), self.hint, self.answer]
        self.children = rows
        self.add_class("ge-exercise")
        self.layout.border = "1px solid #d0d7de"
        self.layout.padding = "6px 10px"
        self.layout.margin = "8px 0"

    def _part_rows(self, part: Part) -> list[widgets.Widget]:
        """The prompt, the answer box with its Check button, and the verdict line of ``part``."""
        box: widgets.Text | widgets.RadioButtons
        if isinstance(part, ChoicePart):
            box = widgets.RadioButtons(
                options=part.options, value=None, layout=widgets.Layout(width="auto")
            )
        else:
            box = widgets.Text(
                placeholder="e.g. 1.2, 1.6" if isinstance(part, VectorPart) else "a number",
                continuous_update=False,
                layout=widgets.Layout(width="16em"),
            )
            box.observe(lambda _: self.check(part.key), names="value")  # Enter (or leaving it)
        box.add_class("ge-exercise-input")
        button = widgets.Button(description="Check", layout=widgets.Layout(width="6em"))
        button.add_class("ge-exercise-check")
        button.on_click(lambda _: self.check(part.key))
        verdict = widgets.HTML()
        verdict.add_class("ge-exercise-verdict")
        self.inputs[part.key], self.verdicts[part.key] = box, verdict
        accepted = _accepted(part)
        prompt = widgets.HTML(
            html.escape(part.prompt)
            + (
                f" <small style='color:#57606a'>({html.escape(accepted)})</small>"
                if accepted
                else ""
            )
        )
        return [prompt, widgets.HBox([box, button]), verdict]

    def check(self, key: str) -> Verdict:
        """Check part ``key``'s answer as it stands, and show the verdict."""
        value = self.inputs[key].value
        try:
            verdict = self.question.check(key, value)
        except Exception as error:  # the page keeps working, and says what happened
            log.exception("checking %s/%s failed", self.question.id, key)
            verdict = Verdict("unreadable", f"The checker failed ({type(error).__name__}): {error}")
        self.verdicts[key].value = verdict_html(verdict)
        if verdict.status != "unreadable":
            self._offer_answer()
        return verdict

    def show_hint(self) -> None:
        """Show the hint, and offer the worked answer."""
        self.hint.value = f"<b>Hint:</b> {html.escape(self.question.hint)}"
        self.hint.layout.display = None
        self._offer_answer()

    def show_answer(self) -> None:
        """Show the worked answer, with the core's values."""
        try:
            text = html.escape(self.question.worked_answer())
        except Exception as error:
            log.exception("worked answer of %s failed", self.question.id)
            text = f"The worked answer could not be computed ({type(error).__name__}): {error}"
        self.answer.value = f"<b>Worked answer:</b> {text}"
        self.answer.layout.display = None

    def _offer_answer(self) -> None:
        self.attempted = True
        self.answer_button.layout.display = None
