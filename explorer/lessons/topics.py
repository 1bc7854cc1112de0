"""The lessons' own questions, beyond the article's: depth, recurrence, spectra and phase,
clipping and the cliff, training. Each expected value comes from ``explorer.core``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

from explorer.core import (
    ClipResult,
    cliff_descents,
    clip_gradients,
    jacobian_spectrum,
    mean_field_chi,
    rnn_gradients,
    train,
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
from explorer.lessons.article import CLOSE, READ, recurrent_gradient, scalar_chain
from explorer.panels.written import four_digits

MILLION = 1e6
THOUSAND = 1e3
CHI_CLOSE = 0.02  # "on the line chi_1 = 1": |chi_1 - 1| at most this


Test = Callable[[float], tuple[bool, str]]


def _first_past(threshold: float, gradient: Callable[[int], float], what: str) -> Test:
    """A test: the typed count n is the first whose ``gradient(n)`` reaches ``threshold``."""

    def test(typed: float) -> tuple[bool, str]:
        if typed != int(typed) or typed < 2:
            return False, f"{what} is a whole number of at least 2, not {typed:g}"
        count = int(typed)
        now, before = gradient(count), gradient(count - 1)
        said = f"at {count} it is {four_digits(now)}, at {count - 1} {four_digits(before)}"
        return bool(now >= threshold > before), said

    return test


def _layer_1(depth: int) -> float:
    return scalar_chain(2.0, depth).gradient_at_layer_1


DEEP_TWENTY = Question(
    id="deep-twenty",
    title="Twenty layers at w = 2",
    text="The same chain with w = 2, now deeper.",
    parts=(
        NumberPart("twenty", "20 layers: gradient at layer 1", lambda: _layer_1(20), CLOSE),
        PropertyPart(
            "million",
            "the fewest layers at which layer 1's gradient reaches a million",
            _first_past(MILLION, _layer_1, "a depth"),
            lambda: float(math.ceil(math.log2(MILLION)) + 1),
            criterion="layer 1 reaches 1,000,000 at that depth and not one layer less",
            example="a whole number of layers, like 12",
        ),
    ),
    hint="Over L layers layer 1 receives w^(L − 1). 2¹⁰ is about a thousand.",
    worked=(
        "Twenty layers put 19 weights between the output and layer 1: 2¹⁹ = {twenty}. A million"
        " needs 2^(L − 1) ≥ 10⁶, so L − 1 ≥ log₂ 10⁶ ≈ 19.9: L = {million} layers"
        " (2²⁰ = 1,048,576)."
    ),
)


def _rnn_first_step(steps: int) -> float:
    return recurrent_gradient(1.01, steps)


def _sigmoid_rnn() -> tuple[float, bool]:
    result = rnn_gradients(
        10, hidden_size=4, weight_scale=3.0, init="orthogonal", activation="sigmoid"
    )
    if result.pascanu_threshold is None or result.vanishing_guaranteed is None:
        raise RuntimeError("the plain cell should give Pascanu's bound")
    return result.pascanu_threshold, result.vanishing_guaranteed


SIGMOID_VERDICTS = ("vanishing is guaranteed", "exploding is possible")

RECURRENT_BOUND = Question(
    id="recurrent-bound",
    title="How long until it explodes, and when it cannot",
    text=(
        "The one-unit recurrence with w = 1.01 again, now with longer sequences. Then a plain"
        " RNN with the sigmoid, whose slope is at most γ = 1/4, and a recurrent matrix W whose"
        " largest singular value is λ₁ = 3 (orthogonal, scaled by 3). Pascanu, Mikolov and"
        " Bengio (2013): if λ₁ < 1/γ the gradient must vanish; only λ₁ > 1/γ lets it explode."
    ),
    parts=(
        PropertyPart(
            "steps",
            "the shortest sequence whose first step receives a gradient of at least 1,000",
            _first_past(THOUSAND, _rnn_first_step, "a sequence length"),
            lambda: float(math.ceil(math.log(THOUSAND) / math.log(1.01))),
            criterion="the gradient reaches 1,000 at that length and not one step shorter",
            example="a whole number of steps, like 250",
        ),
        NumberPart("bound", "the bound 1/γ for the sigmoid", lambda: _sigmoid_rnn()[0], CLOSE),
        ChoicePart(
            "verdict",
            "with λ₁ = 3 and the sigmoid",
            SIGMOID_VERDICTS,
            lambda: SIGMOID_VERDICTS[0] if _sigmoid_rnn()[1] else SIGMOID_VERDICTS[1],
        ),
    ),
    hint=(
        "1.01ᵀ ≥ 1000 means T ≥ ln 1000 / ln 1.01. For the sigmoid, γ = 1/4, so 1/γ = 4: compare"
        " λ₁ = 3 with it. The recurrent panel writes out which condition holds."
    ),
    worked=(
        "ln 1000 / ln 1.01 = 694.2, so T = {steps} steps (1.01⁶⁹⁴ ≈ 998, 1.01⁶⁹⁵ ≈ 1008). For"
        " the sigmoid 1/γ = {bound}; λ₁ = 3 is below it, so {verdict}: a weight matrix that"
        " could let a tanh network explode is too small for a sigmoid one."
    ),
)


def _chi(activation: str, bias_std: float) -> Test:
    def test(typed: float) -> tuple[bool, str]:
        chi = mean_field_chi(typed, bias_std, activation)[0]
        return abs(chi - 1) <= CHI_CLOSE, f"at σ_w = {typed:g}, χ₁ = {chi:.4f}"

    return test


def critical_weight_std(activation: str, bias_std: float) -> float:
    """The σ_w at which the core's χ₁ crosses 1, by bisection on [0.5, 4]."""
    low, high = 0.5, 4.0
    for _ in range(60):
        middle = (low + high) / 2
        if mean_field_chi(middle, bias_std, activation)[0] < 1:
            low = middle
        else:
            high = middle
    return (low + high) / 2


PHASE_CRITICAL = Question(
    id="phase-critical",
    title="Finding the edge of chaos",
    text=(
        "Mean-field theory gives χ₁, the factor by which a gradient's squared norm changes per"
        " layer in a wide random network with weights N(0, σ_w²/n) and biases N(0, σ_b²)."
        " χ₁ = 1 is the edge between vanishing and exploding. Find σ_w on that edge for two"
        " networks: use the phase diagram below, or work it out."
    ),
    parts=(
        PropertyPart(
            "relu",
            "ReLU, no bias: σ_w at the edge",
            _chi("relu", 0.0),
            lambda: critical_weight_std("relu", 0.0),
            criterion=f"|χ₁ − 1| ≤ {CHI_CLOSE:g}",
        ),
        PropertyPart(
            "tanh",
            "tanh, σ_b = 0.3: σ_w at the edge (read it off the diagram's χ₁ = 1 line)",
            _chi("tanh", 0.3),
            lambda: critical_weight_std("tanh", 0.3),
            criterion=f"|χ₁ − 1| ≤ {CHI_CLOSE:g}",
        ),
    ),
    hint=(
        "For ReLU, E[φ′²] = 1/2 whatever the variance, so χ₁ = σ_w² / 2. For tanh with a bias"
        " there is no closed form: on the phase diagram follow the dashed χ₁ = 1 line to"
        " σ_b = 0.3."
    ),
    worked=(
        "ReLU: χ₁ = σ_w²/2 = 1 at σ_w = √2 = {relu} (He initialisation). tanh with σ_b = 0.3:"
        " the bias keeps the activations away from 0, where tanh′ is largest, so the edge moves"
        " right of 1, to σ_w = {tanh}."
    ),
)


def _log10_singular(init: str, which: int) -> float:
    return float(
        jacobian_spectrum("deep", 100, 32, 1.05, init, "linear").log10_singular_values[which]
    )


SPREADS = ("within one decade", "more than ten decades apart")


def _gaussian_spread() -> str:
    spread = jacobian_spectrum("deep", 100, 32, 1.05, "gaussian", "linear").log10_spread
    return SPREADS[0] if spread <= 1 else SPREADS[1] if spread > 10 else "neither"


SPECTRA_ORTHOGONAL = Question(
    id="spectra-orthogonal",
    title="Every direction, not only the largest",
    text=(
        "A deep linear network: 100 layers of width 32, every weight matrix orthogonal and"
        " multiplied by 1.05. Its end-to-end Jacobian is the product of the 100 matrices."
    ),
    parts=(
        NumberPart(
            "largest",
            "the Jacobian's largest singular value",
            lambda: 10 ** _log10_singular("orthogonal", 0),
            READ,
        ),
        NumberPart(
            "smallest",
            "its smallest singular value",
            lambda: 10 ** _log10_singular("orthogonal", -1),
            READ,
        ),
        ChoicePart(
            "gaussian",
            "with gaussian weights at the same scale instead, the largest and smallest"
            " singular values are",
            SPREADS,
            _gaussian_spread,
        ),
    ),
    hint=(
        "An orthogonal matrix keeps every length, so 1.05 · Q stretches every direction by 1.05."
        " A product of 100 of them? For gaussian weights, look at the spectra panel."
    ),
    worked=(
        "Every direction is stretched by 1.05 at each of the 100 layers: 1.05¹⁰⁰ = {largest}, and"
        " the smallest is the same, {smallest} (Saxe et al. 2013). Gaussian matrices of the same"
        " scale stretch some directions and squash others, and over 100 layers the singular"
        " values end up {gaussian}: a few directions explode while most vanish."
    ),
)


@cache
def _clip_16_12_8(method: str) -> ClipResult:
    return clip_gradients([16.0, 12.0, -8.0], method, threshold=5.0)


KEEPS_DIRECTION = ("norm clipping (Pascanu's rule)", "value clipping", "both")


def _keeps_direction() -> str:
    norm_kept = abs(_clip_16_12_8("pascanu").cosine - 1) < 1e-9
    value_kept = abs(_clip_16_12_8("value").cosine - 1) < 1e-9
    return (
        KEEPS_DIRECTION[2] if norm_kept and value_kept else KEEPS_DIRECTION[0 if norm_kept else 1]
    )


CLIP_RULES = Question(
    id="clip-rules",
    title="Norm or value",
    text=(
        "g = [16, 12, −8] and a threshold of 5. Pascanu et al.'s rule rescales g to norm 5 when"
        " ‖g‖ is above 5; value clipping clamps each entry to [−5, 5]."
    ),
    parts=(
        NumberPart("norm", "‖g‖", lambda: _clip_16_12_8("pascanu").norm_before, CLOSE),
        VectorPart(
            "pascanu", "g after Pascanu's rule", lambda: _clip_16_12_8("pascanu").grads[0], READ
        ),
        VectorPart(
            "value", "g after value clipping", lambda: _clip_16_12_8("value").grads[0], READ
        ),
        ChoicePart("kept", "which keeps g's direction?", KEEPS_DIRECTION, _keeps_direction),
    ),
    hint="‖g‖ = √(16² + 12² + 8²). Pascanu's rule multiplies every entry by 5 / ‖g‖.",
    worked=(
        "‖g‖ = √464 = {norm}, so Pascanu's rule multiplies by 5 / {norm}: {pascanu}. Value"
        " clipping gives {value}: the entries are no longer in the ratio 16 : 12 : −8, so the"
        " direction turned. The one that keeps it: {kept}."
    ),
)


def _longest_clipped_step(threshold: float) -> float:
    clipped = cliff_descents((6.0, -3.0), lr=0.5, steps=200, clip_threshold=threshold)[1]
    return float(clipped.step_lengths.max())


CLIFF_STEP = Question(
    id="cliff-step",
    title="How far a step can go",
    text=(
        "On the cliff, gradient descent with learning rate 0.5 starts at (w, b) = (6, −3). A"
        " step moves the parameters by the learning rate times the (clipped) gradient. With"
        " norm clipping, how long can the longest step be?"
    ),
    parts=(
        NumberPart(
            "one", "threshold 1: the longest clipped step", lambda: _longest_clipped_step(1.0), READ
        ),
        NumberPart(
            "fifth",
            "threshold 0.2: the longest clipped step",
            lambda: _longest_clipped_step(0.2),
            READ,
        ),
    ),
    hint="A clipped gradient is at most the threshold long; a step is the learning rate times it.",
    worked=(
        "A clipped step is at most learning rate × threshold: 0.5 × 1 = {one} and 0.5 × 0.2 ="
        " {fifth}, reached on the steps where clipping fired (torch's 10⁻⁶ makes it a hair"
        " shorter). Without clipping the step at the wall has no bound: one step can throw the"
        " parameters off the surface."
    ),
)


@cache
def _clipped_regression() -> tuple[str, int]:
    clipped = train_pair("regression", seed=0)[1]
    return clipped.stop_reason, clipped.clip_count


FINISHES = ("it trains all 400 steps", "it still becomes inf or NaN")


def _finishes(optimizer: str | None) -> str:
    if optimizer is None:
        return FINISHES[0] if _clipped_regression()[0] == "completed" else FINISHES[1]
    run = train("regression", optimizer=optimizer, clip_method=None, seed=0)
    return FINISHES[0] if run.first_nonfinite_step is None else FINISHES[1]


TRAINING_CLIPPED = Question(
    id="training-clipped",
    title="What clipping changes",
    text=(
        "Predict before you run. The lab's regression scenario clips by value at 1.0 in its"
        " second run, as the tutorial did."
    ),
    parts=(
        ChoicePart("finishes", "with value clipping at 1.0", FINISHES, lambda: _finishes(None)),
        NumberPart(
            "count",
            "on how many of the 400 steps did clipping change the gradient?",
            lambda: float(_clipped_regression()[1]),
            Tolerance(),
        ),
    ),
    hint="The first gradients are in the hundreds. Does that change while the loss is still large?",
    worked=(
        "With value clipping {finishes}, and clipping acts on {count} steps: the loss stays"
        " large throughout, so some entry of the gradient is always above 1. Clipped this hard,"
        " every step is short: the run is stable, and slow."
    ),
)

TRAINING_OPTIMIZERS = Question(
    id="training-optimizers",
    title="Is it the momentum?",
    text=(
        "Predict, then run each in the lab (choose the optimizer; the unclipped run is the one"
        " to read). Same scenario, learning rate 0.07, seed 0, no clipping."
    ),
    parts=(
        ChoicePart("sgd", "plain SGD, no momentum", FINISHES, lambda: _finishes("sgd")),
        ChoicePart("adam", "Adam", FINISHES, lambda: _finishes("adam")),
    ),
    hint=(
        "SGD's step is the learning rate times the gradient, whatever its size. Adam divides"
        " each entry by a running estimate of its size."
    ),
    worked=(
        "Plain SGD: {sgd}: the step is proportional to the gradient, and the first gradients"
        " are in the hundreds, momentum or not. Adam: {adam}: its step is about the learning"
        " rate per entry whatever the gradient's size, a built-in normalisation."
    ),
)

TOPIC_QUESTIONS = (
    DEEP_TWENTY,
    RECURRENT_BOUND,
    PHASE_CRITICAL,
    SPECTRA_ORTHOGONAL,
    CLIP_RULES,
    CLIFF_STEP,
    TRAINING_CLIPPED,
    TRAINING_OPTIMIZERS,
)
