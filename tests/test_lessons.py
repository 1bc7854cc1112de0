"""The lessons' checkers: each accepts the right answer typed as a student would, refuses a wrong
one and unreadable text with a message; each expected value agrees with a reference that is not
the core: the article's own numbers, plain arithmetic from its reasoning, torch's clipping
functions, and Gauss-Hermite quadrature of the mean-field integrals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.core import SCENARIO_DEFAULTS
from explorer.lessons import LESSONS, QUESTIONS, ChoicePart, Exercise, parse_vector, question
from explorer.lessons.article import SHARED_CLIP, scalar_chain, unclipped_regression

pytestmark = pytest.mark.usefixtures("close_new_widgets")


def status(question_id: str, key: str, text: str | None) -> str:
    return question(question_id).check(key, text).status


def accepts(question_id: str, key: str, *texts: str) -> None:
    for text in texts:
        verdict = question(question_id).check(key, text)
        assert verdict.status == "right", (text, verdict.message)


def refuses(question_id: str, key: str, *texts: str) -> None:
    for text in texts:
        verdict = question(question_id).check(key, text)
        assert verdict.status == "wrong", (text, verdict.message)
        assert verdict.message.startswith("Not yet")


def torch_clip(vectors: list[list[float]], max_norm: float) -> tuple[float, list[list[float]]]:
    """torch.nn.utils.clip_grad_norm_ itself, on parameters whose gradients are ``vectors``."""
    params = [torch.zeros(len(v), dtype=torch.float64, requires_grad=True) for v in vectors]
    for param, vector in zip(params, vectors, strict=True):
        param.grad = torch.tensor(vector, dtype=torch.float64)
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return float(norm), [param.grad.tolist() for param in params]  # type: ignore[union-attr]


# -- the article's questions ----------------------------------------------------------------------


def test_the_chain_is_the_articles_w2_gives_16() -> None:
    # the article: "With w=2.0 and 5 layers, the gradient at layer 1 is 16"
    assert scalar_chain(2.0).gradient_at_layer_1 == 16


def test_question_1_powers_of_the_weight() -> None:
    # the article's reasoning: four multiplications between layer 5 and layer 1
    assert question("article-1").part("w3").value == pytest.approx(3**4)
    assert question("article-1").part("w09").value == pytest.approx(0.9**4)
    accepts("article-1", "w3", "81", " 81.0 ", "8.1e1")
    accepts("article-1", "w09", "0.6561", "0.656")
    refuses("article-1", "w3", "80", "27", "243")
    refuses("article-1", "w09", "0.59", "0.66")


def test_question_1_constant_weight_is_tested_by_the_chain() -> None:
    # the article: "w=1.0: gradient stays constant"; |w| = 1 keeps the size with a sign flip
    accepts("article-1", "constant", "1", "1.0", "-1")
    refuses("article-1", "constant", "1.01", "0.9", "2")
    verdict = question("article-1").check("constant", "0")
    assert verdict.status == "wrong"
    # the core's refusal, in the part's words: its allowed range, not its argument's name
    assert "(0, 1e+06]" in verdict.message
    assert "weight_scale" not in verdict.message


def test_question_2_against_torch_clip_grad_norm() -> None:
    norm, (clipped,) = torch_clip([[3.0, 4.0]], 2.0)
    q = question("article-2")
    assert q.part("norm").value == pytest.approx(norm)  # 5
    assert q.part("clipped").value == pytest.approx(clipped, rel=1e-6)  # [1.2, 1.6]
    assert q.part("scale").value == pytest.approx(2 / 5)
    assert q.part("clipped_norm").value == pytest.approx(2.0)
    accepts("article-2", "norm", "5")
    accepts("article-2", "scale", "0.4", "0.40")
    accepts("article-2", "clipped", "1.2, 1.6", "[1.2, 1.6]", "(1.2; 1.6)", "1.2 1.6")
    accepts("article-2", "clipped_norm", "2")
    accepts("article-2", "direction", "the same direction")
    refuses("article-2", "norm", "7")
    refuses("article-2", "scale", "2.5")
    refuses("article-2", "clipped", "3, 4", "1.6, 1.2")
    refuses("article-2", "direction", "different directions")


def test_question_3_powers_over_a_hundred_steps() -> None:
    # the article: the gradient at the first step is proportional to W^100
    assert question("article-3").part("up").value == pytest.approx(1.01**100)
    assert question("article-3").part("down").value == pytest.approx(0.99**100)
    accepts("article-3", "up", "2.7048", "2.705")
    accepts("article-3", "down", "0.36603", "0.366")
    refuses("article-3", "up", "1.01", "2.718", "101")
    refuses("article-3", "down", "0.99", "0.3679")
    part = question("article-3").part("meaning")
    assert isinstance(part, ChoicePart)
    assert part.value.startswith("Even a weight 1% away from 1")
    # 1.01^1000 and 0.99^1000, the worked answer's "about 2·10⁴ and 4·10⁻⁵"
    far_up, far_down = 1.01**1000, 0.99**1000
    assert far_up == pytest.approx(2e4, rel=0.05)
    assert far_down == pytest.approx(4.3e-5, rel=0.01)


def test_question_4_against_torch_clip_grad_norm() -> None:
    norm, (w1, w2) = torch_clip([[100.0, 0.0], [0.0, 0.1]], 1.0)
    q = question("article-4")
    assert q.part("norm").value == pytest.approx(math.hypot(100, 0.1)) == pytest.approx(norm)
    assert q.part("w1").value == pytest.approx(w1, abs=1e-12)
    assert q.part("w2").value == pytest.approx(w2, abs=1e-12)
    accepts("article-4", "norm", "100.00005", "100")
    accepts("article-4", "w1", "1, 0", "[0.9999995, 0]")
    accepts("article-4", "w2", "0, 0.001", "[0, 1e-3]")
    refuses("article-4", "norm", "100.2", "0.1")
    refuses("article-4", "w2", "0, 0.1", "0.001, 0")  # unclipped, or the wrong entry
    refuses("article-4", "w1", "1", "1, 0, 0")
    # global clipping keeps the direction (torch scales both tensors by one factor) and shrinks
    # W2's small gradient: the "partly" answer, and only that one, is right
    partly = next(o for o in SHARED_CLIP if o.startswith("Partly"))
    assert status("article-4", "desirable", partly) == "right"
    for other in SHARED_CLIP:
        if other != partly:
            assert status("article-4", "desirable", other) == "wrong"


def test_question_5_is_what_the_training_lab_shows() -> None:
    """The guided check's numbers are those the lab's readout writes after a default run."""
    from explorer.panels import TrainingPanel
    from explorer.panels.train import _readout

    panel = TrainingPanel()
    plan = panel.result
    for trainer in (plan.unclipped, plan.clipped):
        trainer.advance(trainer.settings["steps"])
    shown = _readout(plan.unclipped.history(), plan.clipped.history())
    history = unclipped_regression()
    assert f"non-finite at step {history.first_nonfinite_step}" in shown
    assert "first ‖∇L‖ 313.4" in shown
    assert plan.unclipped.history().grad_norms[:2] == pytest.approx(history.grad_norms[:2])
    accepts("article-5", "first_norm", "313.4", "313", "3.13e2")
    accepts("article-5", "nonfinite", "4")
    accepts("article-5", "growth", "7.45", "7.4")
    accepts("article-5", "largest", "fc1.weight")
    refuses("article-5", "nonfinite", "3", "5")
    refuses("article-5", "first_norm", "1", "2334")
    refuses("article-5", "largest", "fc2.bias")


def test_unreadable_answers_are_said_with_a_message() -> None:
    for key, text in (("w3", "eighty-one"), ("w3", ""), ("w3", "3^4"), ("w09", "0,6561.")):
        verdict = question("article-1").check(key, text)
        assert verdict.status == "unreadable"
        assert verdict.message.startswith("Could not read")
    verdict = question("article-2").check("clipped", "1.2, abc")
    assert verdict.status == "unreadable"
    assert "'abc' is not a number" in verdict.message
    verdict = question("article-2").check("clipped", "1.2")
    assert verdict.status == "wrong"
    assert "has 2 numbers, you typed 1" in verdict.message
    assert status("article-2", "direction", None) == "unreadable"
    assert status("article-2", "direction", "sideways") == "unreadable"
    assert status("article-1", "w3", "x" * 1000) == "unreadable"


def test_parse_vector() -> None:
    assert parse_vector("1.2, 1.6") == (1.2, 1.6)
    assert parse_vector("[1.2, −1.6]") == (1.2, -1.6)  # the Unicode minus the readouts print
    assert parse_vector(" ( 3 ; 4 ) ") == (3.0, 4.0)
    for bad, said in (
        ("", "nothing typed"),
        ("[]", "nothing typed"),
        ("1, 2, nan", "not a finite number"),
        (",".join(["1"] * 17), "17 numbers"),
    ):
        with pytest.raises(ValueError, match=said):
            parse_vector(bad)


# -- the later lessons' questions -----------------------------------------------------------------


def test_deep_twenty() -> None:
    # the articles' 20-layer chain: 2^19 = 524,288; a million first at 2^20 (21 layers)
    accepts("deep-twenty", "twenty", "524288", "524,288", "5.24288e5")
    refuses("deep-twenty", "twenty", "1048576")
    accepts("deep-twenty", "million", "21")
    refuses("deep-twenty", "million", "20", "22")
    assert status("deep-twenty", "million", "20.5") == "wrong"


def test_recurrent_bound() -> None:
    first = next(t for t in range(1, 2000) if 1.01**t >= 1000)  # plain arithmetic: 695
    accepts("recurrent-bound", "steps", str(first))
    refuses("recurrent-bound", "steps", str(first - 1), str(first + 1))
    # Pascanu et al. 2013: gamma = 1/4 for the sigmoid, so 1/gamma = 4 > lambda_1 = 3: vanishing
    accepts("recurrent-bound", "bound", "4")
    accepts("recurrent-bound", "verdict", "vanishing is guaranteed")
    refuses("recurrent-bound", "verdict", "exploding is possible")


def _chi_by_hermite(weight_std: float, bias_std: float) -> float:
    """chi_1 of a tanh network (Poole et al. 2016), by Gauss-Hermite quadrature and a fixed-point
    iteration of the variance map: independent of the core's trapezoid rule and Newton steps."""
    z, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()
    q = 1.0
    for _ in range(2000):
        q = weight_std**2 * float(w @ np.tanh(math.sqrt(q) * z) ** 2) + bias_std**2
    return weight_std**2 * float(w @ (1 - np.tanh(math.sqrt(q) * z) ** 2) ** 2)


def test_phase_critical() -> None:
    # ReLU: chi_1 = sigma_w^2 / 2, critical at sqrt(2) (He et al. 2015; Schoenholz et al. 2017)
    accepts("phase-critical", "relu", "1.414", "1.41421", str(math.sqrt(2)))
    refuses("phase-critical", "relu", "1", "1.5")
    edge = question("phase-critical").part("tanh").value
    assert _chi_by_hermite(edge, 0.3) == pytest.approx(1.0, abs=1e-6)
    accepts("phase-critical", "tanh", f"{edge:.2f}")
    refuses("phase-critical", "tanh", "1", "1.6")


def test_spectra_orthogonal() -> None:
    # an orthogonal matrix scaled by 1.05 stretches every direction by 1.05 (Saxe et al. 2013)
    q = question("spectra-orthogonal")
    assert q.part("largest").value == pytest.approx(1.05**100)
    assert q.part("smallest").value == pytest.approx(1.05**100)
    accepts("spectra-orthogonal", "largest", "131.5", "131")
    refuses("spectra-orthogonal", "smallest", "1", "0.0076")
    accepts("spectra-orthogonal", "gaussian", "more than ten decades apart")


def test_clip_rules_against_torch() -> None:
    norm, (clipped,) = torch_clip([[16.0, 12.0, -8.0]], 5.0)
    q = question("clip-rules")
    assert q.part("norm").value == pytest.approx(norm) == pytest.approx(math.sqrt(464))
    assert q.part("pascanu").value == pytest.approx(clipped, rel=1e-6)
    clamped = torch.tensor([16.0, 12.0, -8.0]).clamp(-5.0, 5.0).tolist()
    assert q.part("value").value == pytest.approx(clamped)
    accepts("clip-rules", "pascanu", "3.714, 2.785, -1.857", "[3.71, 2.79, −1.86]")
    accepts("clip-rules", "value", "5, 5, -5")
    refuses("clip-rules", "value", "5, 5, 5")
    accepts("clip-rules", "kept", "norm clipping (Pascanu's rule)")
    refuses("clip-rules", "kept", "value clipping")


def test_cliff_step_is_learning_rate_times_threshold() -> None:
    # Pascanu et al. 2013: a clipped step is at most lr x threshold long
    assert question("cliff-step").part("one").value == pytest.approx(0.5 * 1.0, rel=1e-5)
    assert question("cliff-step").part("fifth").value == pytest.approx(0.5 * 0.2, rel=1e-5)
    accepts("cliff-step", "one", "0.5")
    accepts("cliff-step", "fifth", "0.1")
    refuses("cliff-step", "one", "1", "2.75")


def test_training_questions() -> None:
    steps = SCENARIO_DEFAULTS["regression"].steps  # 400, the tutorial's 50 epochs of 8 batches
    accepts("training-clipped", "finishes", f"it trains all {steps} steps")
    accepts("training-clipped", "count", str(steps))
    refuses("training-clipped", "count", "0", "4")
    accepts("training-optimizers", "sgd", "it still becomes inf or NaN")
    accepts("training-optimizers", "adam", f"it trains all {steps} steps")


# -- every question -------------------------------------------------------------------------------


def test_every_lesson_has_questions_and_every_article_question_is_in_one() -> None:
    assert sorted(LESSONS) == [1, 2, 3, 4, 5]
    ids = [q.id for lesson in LESSONS.values() for q in lesson]
    assert {f"article-{n}" for n in range(1, 6)} <= set(ids)
    assert len(ids) == len(set(ids))
    assert all(len([q for q in LESSONS[n] if not q.id.startswith("article")]) >= 1 for n in LESSONS)
    assert all(len(LESSONS[n]) >= 2 for n in LESSONS)


@pytest.mark.parametrize("question_id", sorted(QUESTIONS))
def test_the_worked_answer_is_accepted_by_its_own_checker(question_id: str) -> None:
    """Each part's value as the worked answer writes it is accepted; the worked answer names it."""
    q = question(question_id)
    worked = q.worked_answer()
    for part in q.parts:
        shown = part.shown()
        assert shown in worked
        if isinstance(part, ChoicePart):
            assert part.value in part.options
        assert q.check(part.key, shown).right, (part.key, shown)


def test_the_exercise_widget() -> None:
    exercise = Exercise(question("article-1"))
    assert exercise.answer_button.layout.display == "none"  # offered only after an attempt
    exercise.inputs["w3"].value = "81"  # what Enter sends
    assert "Right" in exercise.verdicts["w3"].value
    assert "#1a7f37" in exercise.verdicts["w3"].value  # green
    assert exercise.answer_button.layout.display is None
    exercise.inputs["w3"].value = "80"
    assert "Not yet" in exercise.verdicts["w3"].value
    assert "too low" in exercise.verdicts["w3"].value
    exercise.inputs["w09"].value = "0.6 6"
    assert "Could not read" in exercise.verdicts["w09"].value
    exercise.hint_button.click()
    assert "four times" in exercise.hint.value
    assert exercise.hint.layout.display is None
    exercise.answer_button.click()
    assert "3⁴ = 81" in exercise.answer.value
    assert "accepted within 0.1%" in exercise.children[1].value  # the tolerance is shown


def test_a_choice_exercise_checks_on_its_button() -> None:
    exercise = Exercise(question("article-2"))
    exercise.inputs["direction"].value = "different directions"
    assert exercise.verdicts["direction"].value == ""  # a radio button checks on Check only
    exercise.check("direction")
    assert "Not yet" in exercise.verdicts["direction"].value
    exercise.inputs["direction"].value = "the same direction"
    assert exercise.check("direction").right
