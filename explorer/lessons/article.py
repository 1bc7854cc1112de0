"""The five "Test your understanding" questions of the exploding-gradient article, checked.

Every expected value is computed by ``explorer.core``: the scalar chain by ``chain_gradients``, the
hundred-step recurrence by ``rnn_gradients``, the clipping by ``clip_gradients`` and the
diverging run of question 5 by ``train_pair``. The questions are restated in this project's words.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from explorer.core import (
    ChainResult,
    ClipResult,
    TrainingHistory,
    chain_gradients,
    clip_gradients,
    rnn_gradients,
    train_pair,
)
from explorer.lessons.answers import (
    ChoicePart,
    NumberPart,
    PropertyPart,
    Question,
    Tolerance,
    VectorPart,
)
from explorer.panels.written import four_digits

CLOSE = Tolerance(rel=1e-3)  # numbers a student computes by hand: 0.1%
READ = Tolerance(rel=1e-2)  # numbers a student reads off a panel or rounds: 1%
EQUAL_LAYERS = 1e-3  # "the same at every layer": largest / smallest - 1 at most this


def scalar_chain(weight: float, depth: int = 5) -> ChainResult:
    """The article's chain: ``depth`` layers of one unit, every weight ``weight``, no activation."""
    return chain_gradients(
        depth, width=1, weight_scale=weight, init="identity", activation="linear", dtype="float64"
    )


def _same_at_every_layer(weight: float) -> tuple[bool, str]:
    """Whether the five-layer chain at ``|weight|`` has the same gradient norm at every layer."""
    deltas = scalar_chain(abs(weight)).delta_norms
    written = ", ".join(four_digits(float(x)) for x in deltas)
    sign = " (a negative weight flips the sign at each layer; the sizes are those of |w|)"
    said = f"with w = {weight:g} the gradients from layer 1 to 5 are {written}"
    said += sign if weight < 0 else ""
    return bool(deltas.max() / deltas.min() - 1 <= EQUAL_LAYERS), said


QUESTION_1 = Question(
    id="article-1",
    title="Weights above and below 1",
    source="Article question 1",
    text=(
        "The scalar chain of this lesson: five layers, every weight w, no activation, and a"
        " gradient of 1 entering at the output (layer 5). Backpropagation multiplies it by w at"
        " each layer it passes, so with w = 2 layer 1 receives 16. Predict what layer 1 receives"
        " for two other weights, then find a weight at which every layer receives the same."
    ),
    parts=(
        NumberPart(
            "w3", "w = 3: gradient at layer 1", lambda: scalar_chain(3.0).gradient_at_layer_1, CLOSE
        ),
        NumberPart(
            "w09",
            "w = 0.9: gradient at layer 1",
            lambda: scalar_chain(0.9).gradient_at_layer_1,
            CLOSE,
        ),
        PropertyPart(
            "constant",
            "a weight w that keeps the gradient the same at all five layers",
            _same_at_every_layer,
            lambda: 1.0,
            criterion=f"the five gradients equal to within {EQUAL_LAYERS:.1%}",
        ),
    ),
    hint=(
        "From layer 5 to layer 1 the gradient crosses four weights: it is multiplied by w four"
        " times. For the last part: which number leaves anything unchanged when it multiplies it?"
    ),
    worked=(
        "Layer 1 receives w⁴ (four multiplications between layer 5 and layer 1; w = 2 gives 2⁴ ="
        " 16). So 3⁴ = {w3} and 0.9⁴ = {w09}. The gradient stays the same at every layer only"
        " if each multiplication leaves it unchanged: |w| = 1 (w = {constant}; w = −1 keeps the"
        " size and flips the sign). Above 1 it explodes with depth, below 1 it vanishes."
    ),
)


@cache
def _clip_3_4() -> ClipResult:
    """g = [3, 4] clipped to norm 2 by the article's rule (Pascanu et al. 2013, Algorithm 1)."""
    return clip_gradients([3.0, 4.0], "pascanu", threshold=2.0)


def _same_direction() -> str:
    """Whether [3, 4] and [6, 8], each clipped to norm 2, point the same way (cosine 1)."""
    first = _clip_3_4().grads[0]
    second = clip_gradients([6.0, 8.0], "pascanu", threshold=2.0).grads[0]
    cosine = float(first @ second / np.linalg.norm(first) / np.linalg.norm(second))
    return "the same direction" if abs(cosine - 1) < 1e-9 else "different directions"


QUESTION_2 = Question(
    id="article-2",
    title="Clipping a gradient by its norm",
    source="Article question 2",
    text=(
        "Norm clipping shortens a gradient that is longer than a threshold and keeps its"
        " direction: g becomes g · threshold / ‖g‖ when ‖g‖ is above the threshold. Take"
        " g = [3, 4] and a threshold of 2."
    ),
    parts=(
        NumberPart("norm", "‖g‖", lambda: _clip_3_4().norm_before, CLOSE),
        NumberPart(
            "scale", "the factor g is multiplied by", lambda: _clip_3_4().coefficient, CLOSE
        ),
        VectorPart("clipped", "g after clipping", lambda: _clip_3_4().grads[0], CLOSE),
        NumberPart(
            "clipped_norm",
            "‖g after clipping‖ (check that it is at most 2)",
            lambda: _clip_3_4().norm_after,
            CLOSE,
        ),
        ChoicePart(
            "direction",
            "g₁ = [3, 4] and g₂ = [6, 8] are each clipped to a norm of 2."
            " The clipped vectors point in",
            ("the same direction", "different directions"),
            _same_direction,
        ),
    ),
    hint=(
        "‖g‖ is the length √(3² + 4²). The factor is threshold / ‖g‖. A vector's direction does"
        " not change when it is multiplied by a positive number; is g₂ a multiple of g₁?"
    ),
    worked=(
        "‖g‖ = √(9 + 16) = {norm}, above 2, so g is multiplied by 2 / 5 = {scale}: g_clipped ="
        " {clipped}, whose norm is {clipped_norm}, the threshold itself. g₂ = [6, 8] = 2 · g₁ has"
        " norm 10 and is multiplied by 0.2, to [1.2, 1.6] as well: both point in {direction},"
        " the direction each had before clipping. (torch's clip_grad_norm_ divides by"
        " ‖g‖ + 10⁻⁶, so its factor is 0.39999992.)"
    ),
)


def recurrent_gradient(weight: float, steps: int = 100) -> float:
    """The gradient reaching the first step of a one-unit linear recurrence of weight ``weight``."""
    result = rnn_gradients(
        steps,
        hidden_size=1,
        weight_scale=weight,
        init="identity",
        activation="linear",
        dtype="float64",
    )
    return result.gradient_at_step_0


LONG_RANGE = (
    "Even a weight 1% away from 1 scales the gradient from far steps by a factor that is"
    " exponential in the distance: near e or 1/e at 100 steps, and far more at 1,000.",
    "A weight within 1% of 1 is safe at any sequence length.",
    "Only weights above 1 cause trouble; below 1 the gradient stays usable.",
)


def _long_range() -> str:
    """The first option if 1.01 and 0.99 move the gradient by over 1000× at 1,000 steps."""
    far_up, far_down = recurrent_gradient(1.01, 1000), recurrent_gradient(0.99, 1000)
    return LONG_RANGE[0] if far_up > 1e3 and far_down < 1e-3 else LONG_RANGE[1]


QUESTION_3 = Question(
    id="article-3",
    title="A hundred steps of one weight",
    source="Article question 3",
    text=(
        "A recurrent network applies the same weight at every step. Take the simplest one: one"
        " unit, no activation, weight w, and a sequence of 100 steps. The gradient that reaches"
        " the first step has been multiplied by w a hundred times. Compute it for a weight just"
        " above 1 and one just below."
    ),
    parts=(
        NumberPart(
            "up", "w = 1.01: gradient at the first step", lambda: recurrent_gradient(1.01), CLOSE
        ),
        NumberPart(
            "down", "w = 0.99: gradient at the first step", lambda: recurrent_gradient(0.99), CLOSE
        ),
        ChoicePart(
            "meaning", "What does this say about long-range dependencies?", LONG_RANGE, _long_range
        ),
    ),
    hint=(
        "The gradient is w¹⁰⁰. Without a calculator: (1 + x)ⁿ is close to e^(n·x) when x is small."
    ),
    worked=(
        "1.01¹⁰⁰ = {up} (close to e) and 0.99¹⁰⁰ = {down} (close to 1/e). At 100 steps neither"
        " looks dangerous, but the factor is exponential in the distance: at 1,000 steps the same"
        " weights give the tenth powers of these, about 2·10⁴ and 4·10⁻⁵. A plain RNN carries a"
        " gradient across a long gap only if its weight (the largest singular value of W) stays"
        " at 1 almost exactly, and nothing in training holds it there. {meaning}"
    ),
)


@cache
def _clip_two_tensors() -> ClipResult:
    """∂L/∂W₁ = [100, 0] and ∂L/∂W₂ = [0, 0.1] clipped to a global norm of 1, as torch does."""
    return clip_gradients([[100.0, 0.0], [0.0, 0.1]], "global_norm", threshold=1.0)


SHARED_CLIP = (
    "Partly: the step keeps the full gradient's direction, but W₂ barely moves: its gradient,"
    " well under the threshold on its own, shrank because W₁'s was large.",
    "Yes, fully: each tensor is shortened only as much as its own norm requires.",
    "No: global clipping turns the step away from the gradient's direction.",
)


def _shared_clip() -> str:
    """Which of ``SHARED_CLIP`` the core's numbers support."""
    result = _clip_two_tensors()
    small_shrank = result.tensor_norms_after[1] < result.tensor_norms_before[1] < result.threshold
    if abs(result.cosine - 1) > 1e-6:
        return SHARED_CLIP[2]
    return SHARED_CLIP[0] if small_shrank else SHARED_CLIP[1]


QUESTION_4 = Question(
    id="article-4",
    title="One norm for all the tensors",
    source="Article question 4",
    text=(
        "Clipping is usually applied to the global norm: the length of all the model's"
        " gradients taken together, every tensor then multiplied by the same factor. Suppose"
        " ∂L/∂W₁ = [100, 0] and ∂L/∂W₂ = [0, 0.1], clipped to a global norm of 1 (torch's"
        " clip_grad_norm_)."
    ),
    parts=(
        NumberPart(
            "norm", "the global norm", lambda: _clip_two_tensors().norm_before, CLOSE, digits=8
        ),
        VectorPart(
            "w1", "∂L/∂W₁ after clipping", lambda: _clip_two_tensors().grads[0], READ, digits=7
        ),
        VectorPart(
            "w2", "∂L/∂W₂ after clipping", lambda: _clip_two_tensors().grads[1], READ, digits=7
        ),
        ChoicePart("desirable", "Is this desirable?", SHARED_CLIP, _shared_clip),
    ),
    hint=(
        "The global norm is √(100² + 0² + 0² + 0.1²). Both tensors are multiplied by"
        " 1 / (global norm)."
    ),
    worked=(
        "The global norm is √(10,000 + 0.01) = {norm}. Both tensors are multiplied by its"
        " inverse: ∂L/∂W₁ becomes {w1} and ∂L/∂W₂ becomes {w2}. {desirable} W₂ now learns a"
        " hundred times more slowly, although its own gradient never needed clipping. Clipping"
        " each tensor on its own would leave it as it was; Adam rescales each parameter anyway."
    ),
)


@cache
def unclipped_regression() -> TrainingHistory:
    """The training lab's default regression run without clipping (seed 0)."""
    return train_pair("regression", seed=0)[0]


REGRESSION_TENSORS = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


def _largest_tensor() -> str:
    history = unclipped_regression()
    return history.names[int(np.argmax(history.param_grad_norms[0]))]


def _nonfinite_step() -> float:
    step = unclipped_regression().first_nonfinite_step
    if step is None:
        raise RuntimeError("the unclipped regression run stayed finite")
    return float(step)


QUESTION_5 = Question(
    id="article-5",
    title="Diagnosing the divergence",
    source="Article question 5, as a guided check in the training lab",
    text=(
        "A run whose loss suddenly becomes NaN, without clipping: is it exploding gradients?"
        " Check it on the lab's regression scenario. In the training lab above, keep the"
        " defaults (scenario regression, seed 0), press Start and wait for both runs. Then read"
        " three diagnostics of the unclipped run, each taken at every step: the global"
        " gradient norm ‖∇L‖, each tensor's gradient norm, and the first step whose loss or"
        " gradient is inf or NaN."
    ),
    parts=(
        NumberPart(
            "first_norm",
            "‖∇L‖ at step 0 (how many times a usual clipping threshold of 1 is it?)",
            lambda: float(unclipped_regression().grad_norms[0]),
            READ,
        ),
        NumberPart(
            "growth",
            "‖∇L‖ at step 1 divided by ‖∇L‖ at step 0",
            lambda: float(
                unclipped_regression().grad_norms[1] / unclipped_regression().grad_norms[0]
            ),
            Tolerance(rel=0.02),
        ),
        NumberPart(
            "nonfinite",
            "the first step whose ‖∇L‖ or loss is inf or NaN",
            _nonfinite_step,
            Tolerance(),
        ),
        ChoicePart(
            "largest",
            "at step 0, the tensor with the largest gradient norm",
            REGRESSION_TENSORS,
            _largest_tensor,
        ),
    ),
    hint=(
        "After the run, the table under the plots gives the unclipped run's first ‖∇L‖ and the"
        " step at which it became non-finite. Move the step slider to 1 to read that step's"
        " ‖∇L‖. The per-tensor plot shows each tensor's gradient norm at the chosen step."
    ),
    worked=(
        "At step 0 the global norm is already {first_norm}: hundreds of times a usual threshold"
        " of 1. One step later it is {growth} times larger, and it keeps growing by orders of"
        " magnitude until step {nonfinite}, where it is inf and the loss NaN. At step 0 the"
        " largest gradient is that of {largest}. What to watch: a global norm far above its"
        " usual size (above the clipping threshold you would choose, or 10–100× the median of"
        " recent steps), a step-to-step ratio well above 1 that persists, and any inf or NaN,"
        " checked at every step, not every epoch: here the whole blow-up takes {nonfinite}"
        " steps, less than one epoch of 8 batches."
    ),
)

QUESTIONS = (QUESTION_1, QUESTION_2, QUESTION_3, QUESTION_4, QUESTION_5)
