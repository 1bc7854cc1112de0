"""The words of the on-screen help, in one place: what each control is, and what each figure
shows. ``explorer.panels.help`` puts them on screen (tooltips with the ranges, which come from
the panels' own ``Bounds`` and options, and the "What am I looking at?" notes).

Equations and references follow docs/SCIENCE.md, the project's account of the core. A text may
name a constant of its panel's module in braces ("{FAN_SIDE}"), filled in when the panel is
built, so that a number the panel enforces is never copied here.
"""

from __future__ import annotations

from dataclasses import dataclass

# what a control is, by panel key and control (or selector) name; the range is added on screen
_SEED = "fixes the random draw of {}: the same seed gives the same numbers"
_DTYPE = (
    "the floating-point type of the forward and backward passes: float32 overflows to inf"
    " beyond about 3.4·10³⁸, float64 beyond about 1.8·10³⁰⁸"
)
_ACTIVATION = (
    "φ, applied to every unit; its slope φ′ enters every Jacobian diag(φ′(z)) W, and"
    " γ = sup |φ′| is 1 for linear, tanh and relu, 1/4 for sigmoid"
)
_INIT = (
    "how each weight matrix is drawn, with s the weight scale: identity W = s·I; gaussian"
    " W_ij ~ N(0, s²/fan_in); orthogonal W = s·Q, Q a random orthogonal matrix (Saxe et al."
    " 2013); xavier W_ij ~ N(0, s²·2/(fan_in + fan_out)) (Glorot and Bengio 2010); he"
    " W_ij ~ N(0, s²·2/fan_in) (He et al. 2015)"
)
_CLIP_RULES = (
    "value clamps each component, g_i ← max(−t, min(t, g_i)); norm scales each tensor by"
    " min(1, t/(‖g_i‖ + 10⁻⁶)); global_norm scales every tensor by min(1, t/(N + 10⁻⁶)),"
    " N = √(Σ ‖g_i‖²); pascanu: if N ≥ t then g ← (t/N)·g (Pascanu et al. 2013, Algorithm 1)"
)

CONTROLS: dict[str, dict[str, str]] = {
    "deep": {
        "depth": (
            "L, the number of layers of a_l = φ(W_l a_(l−1) + b_l), l = 1..L: the gradient"
            " passes back through L layer Jacobians"
        ),
        "width": (
            "n, the units in every layer (each W_l is n × n); width 1 with identity init and a"
            " linear activation is the articles' scalar chain"
        ),
        "weight_scale": (
            "s, which multiplies every weight matrix; with gaussian init W_ij ~ N(0, s²/fan_in),"
            " with identity init W_l = s·I, so the scalar chain's gradient is s^(L−1) at layer 1"
        ),
        "bias_scale": "the standard deviation of every bias, b_l ~ N(0, bias std²)",
        "init": _INIT,
        "activation": _ACTIVATION,
        "dtype": _DTYPE,
        "seed": _SEED.format("the weights and biases"),
        "layer": (
            "the layer l whose gradient ‖∂L/∂a_l‖ is written out beside the first and last"
            " {EDGE} (type it, or click the left plot)"
        ),
    },
    "recurrent": {
        "seq_len": (
            "T, the time steps of h_t = φ(W h_(t−1) + U x_t), t = 1..T: backpropagation through"
            " time multiplies T step Jacobians, so T acts like depth"
        ),
        "hidden_size": "n, the units of h_t (W is n × n; the LSTM's state (h, c) holds 2n)",
        "weight_scale": (
            "s, which multiplies the recurrent matrix W: gaussian W_ij ~ N(0, s²/n), identity"
            " W = s·I, orthogonal W = s·Q; a scalar linear cell gives |w|^(T−k) at step k"
        ),
        "input_scale": "the input's size: U_ij ~ N(0, input scale²/n), with x_t ~ N(0, I)",
        "gate_bias": (
            "the bias of the LSTM's forget gate or the GRU's update gate (Gers et al. 2000;"
            " Jozefowicz et al. 2015): a large one keeps the memory, and the gradient, for many"
            " steps"
        ),
        "cell": (
            "the recurrent cell: rnn is h_t = φ(W h_(t−1) + U x_t); lstm and gru follow torch's"
            " LSTMCell and GRUCell"
        ),
        "init": (
            "how W is drawn, with s the weight scale: identity W = s·I; gaussian"
            " W_ij ~ N(0, s²/n); orthogonal W = s·Q"
        ),
        "activation": _ACTIVATION + " (Pascanu et al.'s bound ‖∂h_t/∂h_(t−1)‖ ≤ γ λ₁)",
        "dtype": _DTYPE,
        "seed": _SEED.format("the weights and inputs"),
        "step": (
            "the step k whose gradient ‖∂L/∂h_k‖ is written out beside the first and last"
            " {EDGE} (type it, or click the left plot)"
        ),
    },
    "spectra": {
        "network": (
            "which end-to-end Jacobian: deep is ∂a_L/∂a₀ of the deep network (no bias),"
            " recurrent is ∂h_T/∂h₀ of the plain recurrent cell"
        ),
        "length": (
            "L, the layers (deep) or time steps (recurrent) whose Jacobians are multiplied,"
            " J = J_L ⋯ J₁"
        ),
        "width": "n, the units per layer: J is n × n and has n singular values",
        "weight_scale": (
            "s, the scale of both inits: gaussian W_ij ~ N(0, s²/n) on the left, orthogonal"
            " W = s·Q on the right; a linear orthogonal network puts every singular value at sᴸ"
        ),
        "activation": _ACTIVATION,
        "seed": _SEED.format("the weights"),
    },
    "phase": {
        "activation": "φ of every network measured and of the mean-field theory's χ₁ line",
        "depth": (
            "L, the layers of each random network (the growth is averaged over layers L/2..L)"
        ),
        "width": "n, the units per layer of each random network (the theory takes n large)",
        "seed": _SEED.format("the normal matrices that every cell of the grid shares"),
        "weight_std": (
            "σ_w of the chosen setting (the ring on the diagram; click the diagram to move it):"
            " the deep-network tab gets gaussian init at weight scale σ_w, W_ij ~ N(0, σ_w²/n)"
        ),
        "bias_std": (
            "σ_b of the chosen setting, b_i ~ N(0, σ_b²): the deep-network tab gets bias std σ_b"
        ),
    },
    "clipping": {
        "gradient": (
            "the gradient g: numbers separated by commas, tensors by ';' (one tensor of 2 or 3"
            " numbers is drawn as an arrow, anything else as bars per tensor); up to"
            " {MAX_TENSORS} tensors and {MAX_COMPONENTS} numbers"
        ),
        "threshold": (
            "t, the clip threshold: norm clipping scales g so that ‖g‖ ≤ t (onto the ball),"
            " value clipping clamps every component into [−t, t] (into the box)"
        ),
        "left": f"the method drawn on the left: {_CLIP_RULES}",
        "right": f"the method drawn on the right: {_CLIP_RULES}",
        "semantics": (
            "whose rules to follow, bit for bit: torch (clip_grad_norm_, clip_grad_value_),"
            " keras (clipnorm, global_clipnorm, clipvalue) or optax (clip_by_global_norm, clip)"
        ),
    },
    "cliff": {
        "clip_threshold": "t, the threshold the clipped run clips ∇L to before each step",
        "method": (
            "how the clipped run clips ∇L = (∂L/∂w, ∂L/∂b), with torch's rules; pascanu is the"
            " paper's: if ‖∇L‖ ≥ t then ∇L ← (t/‖∇L‖)·∇L"
        ),
        "lr": "lr, the step size of θ_(k+1) = θ_k − lr·clip(∇L(θ_k)), with θ = (w, b)",
        "steps": "the descent steps each run takes",
        "seq_len": (
            "T, the steps of the one-unit recurrence x_t = w σ(x_(t−1)) + b from x₀ = 0.5;"
            " the longer T, the steeper the wall"
        ),
        "start_w": "w where both runs start (the recurrent weight); or click the surface",
        "start_b": "b where both runs start (the bias); or click the surface",
        "fan": (
            "on: {FAN_SIDE}×{FAN_SIDE} starts from a grid at once, the curves showing the median"
            " over runs; off: one start"
        ),
    },
    "training": {
        "scenario": (
            "the network and data: the MLP regression of article 002 (Linear(20, 25), ReLU,"
            " Linear(25, 1) on scikit-learn's make_regression) or a tanh RNN on the adding"
            " problem (Hochreiter and Schmidhuber 1997); choosing one loads its settings"
        ),
        "optimizer": (
            "torch.optim: sgd is SGD, momentum is SGD with the scenario's momentum, adam is Adam"
        ),
        "lr": "the optimizer's learning rate, the same for both runs",
        "clip_method": (
            "how the clipped run clips its gradients after backward() and before each"
            " optimizer step, with torch's rules: value clip_grad_value_, norm per tensor,"
            " global_norm clip_grad_norm_, agc relative to each unit's weight norm (Brock et al."
            " 2021), pascanu (Pascanu et al. 2013)"
        ),
        "clip_threshold": "t, the clipped run's threshold (for agc: the ratio to the weights)",
        "steps": "the optimizer steps each run trains",
        "seq_len": "T, the length of the adding problem's sequences",
        "seed": _SEED.format("the initial weights and the batches, which both runs share"),
        "step": (
            "a step of the last run, shown by the grey cursor on the curves and by the bars of"
            " each tensor's gradient norm (off until a run has ended)"
        ),
    },
    "run": {
        "source": (
            "the recording shown: the example (the Training lab's RNN on the adding problem,"
            " unclipped, which goes inf/NaN), the Training lab's last runs, or a .npz file"
            " that GradientRecorder.save wrote, uploaded with the Upload button"
        ),
        "sort": (
            "the order of the heatmap's rows, module groups kept together: the model's own"
            " order, the largest gradient norm first, the earliest spike first, or the earliest"
            " inf/NaN first"
        ),
        "group": (
            "how tensors are grouped: by the first parts of their module's name"
            " (encoder.layers.3 at 3 levels); automatic takes the deepest level with at most 30"
            " groups"
        ),
        "threshold": (
            "t of the fixed global-norm policy: clip_grad_norm_'s g ← g·min(1, t/(N + 10⁻⁶))"
        ),
        "skip_limit": (
            "the skip policy drops a step's update when N is not below this limit (optax's"
            " skip_large_updates; Megatron-LM skips inf/NaN steps)"
        ),
        "window": (
            "spike detection (Lightning's SpikeDetection): the running mean m of the last"
            " accepted norms over this many steps"
        ),
        "rtol": (
            "spike detection: N is a spike when it rose and |N − m| ≥ rtol·|m|; a spike's"
            " update is skipped"
        ),
        "warmup": "steps before spike detection and ZClip act (ZClip's statistics start there)",
        "z_thresh": (
            "ZClip (Kumar et al. 2025): clip when z = (N − μ)/σ exceeds this, μ and σ² being"
            " exponential moving averages of the norm"
        ),
        "percentile": (
            "AutoClip (Seetharaman et al. 2020): the threshold is this percentile of every"
            " norm seen so far"
        ),
        "step": (
            "a step of the run, shown by the cursors and written out under the figure with"
            " each policy's decision there"
        ),
    },
}

PRESET = (
    "loads a named setting into the controls (the articles' worked examples and exercises"
    " among them); (custom) says the controls hold none of them"
)

# widgets a panel keeps as attributes (buttons, a progress bar), by panel key and attribute
WIDGETS: dict[str, dict[str, str]] = {
    "phase": {
        "load": (
            "opens the chosen σ_w, σ_b with this diagram's activation, depth and width in the"
            " Deep network tab (gaussian init)"
        ),
    },
    "training": {
        "progress": "the steps trained so far, out of the steps planned",
        "diagnose_button": (
            "opens the last unclipped run in the Your run tab: each tensor's norm over the"
            " steps, where it spiked first, and what each clipping policy would have done"
        ),
    },
    "run": {
        "upload": "read a .npz recording that GradientRecorder.save or GradientHistory.save wrote",
        "reload": "read the chosen run again (the Training lab's newest run, after a new Start)",
    },
}

# the training lab's buttons: what each does, and why it is off when it is
START = (
    "Start: trains two copies of the network from the same initial weights on the same batches,"
    " one without clipping and one with the chosen clip method"
)
START_OFF = "Start is off while both runs train: press Stop first"
STOP = "Stop: ends both runs after the current slice of steps"
STOP_OFF = "Stop is off: nothing is training"


@dataclass(frozen=True)
class Note:
    """A "What am I looking at?" note for one figure: what each axes shows (the axis labels
    quoted as drawn), the equations, and where they come from."""

    topic: str  # after "What am I looking at?" when a panel has more than one figure
    axes: tuple[tuple[str, str], ...]  # (which axes, what is drawn on it)
    equations: tuple[str, ...]
    source: str


_ARTICLE_001 = 'article 001, "Exploding Gradient Problem"'
_ARTICLE_002 = (
    'article 002, "Understanding Gradient Clipping (and How It Can Fix Exploding Gradients'
    ' Problem)" (neptune.ai)'
)
_PASCANU = (
    "Pascanu, Mikolov and Bengio (2013), On the difficulty of training recurrent neural networks"
)

NOTES: dict[str, tuple[Note, ...]] = {
    "deep": (
        Note(
            "the gradient through a deep network",
            (
                (
                    "Left, Gradient reaching each layer",
                    "x: “layer l”, 1..L. y: “norm (log scale)”, ticks at powers of 10. Blue:"
                    " the gradient ‖∂L/∂a_l‖ = ‖δ_l‖ at each layer. Orange: the forward"
                    " activation ‖a_l‖, from a₀ on. Grey dashes: the bound ∏ ‖J_k‖ over k > l."
                    " Black dots: |w|^(L−l), the scalar chain, drawn only where it is exact"
                    " (identity or orthogonal weights, linear activation). Red ▼: layers whose"
                    " value overflowed to inf or NaN in the chosen dtype. Click to write out a"
                    " layer.",
                ),
                (
                    "Right, Layer Jacobians",
                    "x: “layer l”. y: “spectral norm (log scale)”. Light blue: ‖J_l‖₂, the"
                    " largest factor by which layer l can stretch a gradient. Black line: 1;"
                    " below it a layer shrinks the gradient, above it grows it. The box compares"
                    " the product ∏ ‖J_l‖ (an upper bound) with the true end-to-end norm"
                    " ‖J_L ⋯ J₁‖₂.",
                ),
            ),
            (
                "z_l = W_l a_(l−1) + b_l, a_l = φ(z_l), l = 1..L, with a₀ a unit vector",
                "a unit gradient enters at the output: δ_L = ∂L/∂a_L, ‖δ_L‖ = 1",
                "δ_(l−1) = J_lᵀ δ_l = W_lᵀ (φ′(z_l) ⊙ δ_l), with J_l = diag(φ′(z_l)) W_l",
                "‖δ_l‖ ≤ ∏ ‖J_k‖ over k > l; the scalar chain gives δ_l = w^(L−l)",
            ),
            f"{_ARTICLE_001}: its worked example (w = 2 over five layers gives 16, 8, 4, 2, 1;"
            " twenty layers give 2¹⁹ = 524,288) and exercise 1. The inits: Glorot and Bengio"
            " (2010), He et al. (2015), Saxe, McClelland and Ganguli (2013).",
        ),
    ),
    "recurrent": (
        Note(
            "backpropagation through time",
            (
                (
                    "Left, Gradient reaching each step",
                    "x: “time step k”, 0..T. y: “norm (log scale)”. Blue: ‖∂L/∂h_k‖. Green"
                    " dashes (LSTM only): ‖∂L/∂c_k‖ of the cell state, h_k held fixed. Black"
                    " dots: |w|^(T−k), drawn only for a plain linear cell with identity or"
                    " orthogonal W. Red ▼: steps whose gradient is inf or NaN. Click to write"
                    " out a step.",
                ),
                (
                    "Middle, Step Jacobians",
                    "x: “time step t”, 1..T. y: “spectral norm (log scale)”. Light blue:"
                    " ‖∂s_t/∂s_(t−1)‖₂, s the state (h, or (h, c) for the LSTM). Black line: 1."
                    " Orange dashes: 1/γ, Pascanu et al.'s threshold. Purple dash-dots: λ₁, the"
                    " largest singular value of W (both for the plain cell only).",
                ),
                (
                    "Right, What each step adds to ∂L/∂W",
                    "x: “time step t”. y: “Frobenius norm (log scale)”. Green: the norm of step"
                    " t's term of the sum below. Red ★: the largest term.",
                ),
            ),
            (
                "h_t = φ(W h_(t−1) + U x_t), t = 1..T, from h₀ = 0; the loss L = g·h_T, ‖g‖ = 1",
                "∂h_t/∂h_(t−1) = diag(φ′(z_t)) W, and δ_(t−1) = (∂h_t/∂h_(t−1))ᵀ δ_t",
                "∂L/∂W = Σ_t (φ′(z_t) ⊙ δ_t) h_(t−1)ᵀ (Pascanu et al., eq. 4–5)",
                "‖∂h_t/∂h_(t−1)‖ ≤ γ λ₁ (eq. 7): λ₁ < 1/γ is sufficient for vanishing, λ₁ > 1/γ"
                " necessary for exploding",
            ),
            f"{_PASCANU}, eq. 4–5 and 7 and section 2.1; {_ARTICLE_001}, exercise 3 (1.01¹⁰⁰ ≈"
            " 2.70 and 0.99¹⁰⁰ ≈ 0.366). LSTM and GRU: torch's cell equations; the gate bias:"
            " Gers, Schmidhuber and Cummins (2000), Jozefowicz, Zaremba and Sutskever (2015).",
        ),
    ),
    "spectra": (
        Note(
            "the spectrum of the end-to-end Jacobian",
            (
                (
                    "Left (gaussian weights, blue) and right (orthogonal weights, green)",
                    "x: “singular value σ (log scale)”, the same range on both sides. y: “how"
                    " many”: a histogram of log₁₀ σ_i over all n singular values; the black"
                    " ticks under 0 mark one value each. Orange dashes: scaleᴸ, where a linear"
                    " network with orthogonal weights puts every σ_i. The text gives the largest"
                    " and smallest σ, their spread in decades and the share within ×10 of"
                    " scaleᴸ; red text counts directions mapped to exactly 0.",
                ),
            ),
            (
                "J = J_L ⋯ J₁ = ∂a_L/∂a₀ (deep, no bias) or ∂h_T/∂h₀ (recurrent), with"
                " J_l = diag(φ′(z_l)) W_l",
                "σ_1 ≥ … ≥ σ_n, the singular values of J, computed in log space (exact beyond"
                " float64's range)",
                "orthogonal W_l = s·Q with a linear φ: every σ_i = sᴸ; gaussian W_ij ~ N(0,"
                " s²/n): the σ_i spread apart as L grows (the Lyapunov exponents of random"
                " matrix products)",
            ),
            "Saxe, McClelland and Ganguli (2013) for the orthogonal isometry; Pennington,"
            " Schoenholz and Ganguli (2017) for dynamical isometry near the edge of chaos;"
            " Newman (1986) and Cohen and Newman (1984) for the gaussian spread.",
        ),
    ),
    "phase": (
        Note(
            "the order-to-chaos diagram",
            (
                (
                    "The diagram",
                    "x: “weight std σ_w”. y: “bias std σ_b”. Colour (bar on the right:"
                    " “measured log₁₀ growth of ‖δ‖ per layer”): each cell is random networks"
                    " measured at that (σ_w, σ_b); red, the gradient grows toward the input"
                    " (exploding, chaotic), blue, it shrinks (vanishing, ordered), white"
                    " neither. Black line: the mean-field theory's edge of chaos χ₁ = 1. Red"
                    " ring: the chosen setting; click a cell to choose it.",
                ),
            ),
            (
                "W_ij ~ N(0, σ_w²/n), b_i ~ N(0, σ_b²); measured: the mean per-layer log₁₀"
                " growth of ‖δ_l‖ over layers L/2..L",
                "q* is the fixed point of q ↦ σ_w² E[φ(√q z)²] + σ_b², z ~ N(0, 1)",
                "χ₁ = σ_w² E[φ′(√q* z)²]: ‖δ‖² changes by χ₁ per layer, so the growth is about"
                " ½ log₁₀ χ₁; χ₁ < 1 vanishes, χ₁ > 1 explodes",
            ),
            "Poole, Lahiri, Raghu, Sohl-Dickstein and Ganguli (2016); Schoenholz, Gilmer,"
            " Ganguli and Sohl-Dickstein (2017). tanh without bias is critical at σ_w = 1;"
            " relu at σ_w = √2 (He et al. 2015).",
        ),
    ),
    "clipping": (
        Note(
            "one gradient, two clipping methods",
            (
                (
                    "One tensor of 2 or 3 numbers: a picture of g",
                    "x and y (and z in 3-D): the components g₁, g₂ (g₃), on the same scale."
                    " Grey: the gradient g from the origin. Red: g after clipping; black dots"
                    " join the two tips. Blue circle (or sphere): ‖g‖ = threshold, where norm"
                    " clipping puts g, keeping its direction. Orange dashed square (or cube):"
                    " |g_i| = threshold, where value clipping clamps each component, turning g.",
                ),
                (
                    "Several tensors, or more numbers: bars",
                    "x: one pair of bars per tensor. y: “tensor norm (log scale)”. Grey outline:"
                    " the tensor's norm before; red: after. Blue dashes: the threshold (norm"
                    " methods): global norm shrinks a small tensor because a big one set N,"
                    " per-tensor norm does not.",
                ),
            ),
            (
                "value: g_i ← max(−t, min(t, g_i))",
                "norm (per tensor) and global_norm: g ← g·min(1, t/(N + 10⁻⁶)), N = ‖g_i‖ or"
                " N = √(Σ_i ‖g_i‖²) (torch)",
                "pascanu: if N ≥ t then g ← (t/N)·g",
            ),
            f"{_ARTICLE_001}: g = [16, 12, −8] at threshold 5, exercises 2 and 4; {_PASCANU},"
            " Algorithm 1; the library calls named above each plot (torch, Keras, Optax).",
        ),
    ),
    "cliff": (
        Note(
            "descent across the cliff",
            (
                (
                    "Left, the loss surface",
                    "x: “w (recurrent weight)”. y: “b (bias)”. Colour (bar: “log₁₀ loss”):"
                    " the loss at each (w, b), shown down to 10⁻¹². Orange: unclipped descent;"
                    " light blue: clipped descent from the same start (white circle); in fan"
                    " mode, one line per start. Red ×: where an unclipped run was thrown off (it"
                    " left the picture or overflowed). Click to start there.",
                ),
                (
                    "Right, Loss per step and Gradient norm before clipping",
                    "x: “step”. y: “loss” above and “‖∇L‖” below, on log scales; orange"
                    " unclipped, light blue clipped (in fan mode the median over runs). Black"
                    " dashes: the clip threshold (norm methods).",
                ),
            ),
            (
                "x₀ = 0.5, x_t = w σ(x_(t−1)) + b, t = 1..T; L(w, b) = (σ(x_T) − 0.7)²",
                "δ_T = 2(σ(x_T) − 0.7) σ′(x_T), δ_(t−1) = δ_t w σ′(x_(t−1));"
                " ∂L/∂b = Σ_t δ_t, ∂L/∂w = Σ_t δ_t σ(x_(t−1))",
                "θ_(k+1) = θ_k − lr·clip(∇L(θ_k)), θ = (w, b); near the wall ‖∇L‖ grows like"
                " (w σ′(x*))ᵀ, x* the unstable fixed point",
            ),
            f"{_PASCANU}, section 2.3 and Fig. 6; {_ARTICLE_002} shows an adapted version.",
        ),
    ),
    "training": (
        Note(
            "loss and gradient norm per step",
            (
                (
                    "Top, Training loss",
                    "x: “step”. y: “loss”, the MSE of each batch (log scale). Orange: the"
                    " unclipped run; light blue: the clipped run. A dashed line and a red ✕ in"
                    " a run's colour: its first step whose loss or gradient is inf or NaN. Grey"
                    " line: the step inspected.",
                ),
                (
                    "Bottom, Global gradient norm before clipping",
                    "x: “step”. y: “‖∇L‖”, the global norm N of all gradients (log scale), as"
                    " clip_grad_norm_ returns it. Black dashes: the clip threshold (norm"
                    " methods).",
                ),
            ),
            (
                "each step: loss, backward(), N = ‖(‖g₁‖₂, …, ‖g_k‖₂)‖₂, clip (clipped run"
                " only), optimizer step",
                "global_norm clipping: g ← g·min(1, t/(N + 10⁻⁶)); value: g_i ← max(−t,"
                " min(t, g_i))",
            ),
            f"{_ARTICLE_002} (its regression experiment, clipped by value at 1.0);"
            f" {_ARTICLE_001} (watch the global gradient norm per batch); the adding problem:"
            " Hochreiter and Schmidhuber (1997), Pascanu et al. (2013).",
        ),
        Note(
            "each tensor's gradient norm",
            (
                (
                    "Each tensor's gradient norm",
                    "x: “‖∇‖ before clipping”, log scale, covering every step of both runs. y:"
                    " one row per parameter tensor of the network, by name. Orange bar: the"
                    " unclipped run; light blue bar under it: the clipped run, at the step"
                    " inspected. Red text: a value that is inf or NaN.",
                ),
            ),
            ("‖∇W‖ = ‖∂L/∂W‖₂ of each tensor W, before clipping",),
            f"{_ARTICLE_001} and {_ARTICLE_002}: watch each layer's gradient norm to see where"
            " it explodes.",
        ),
    ),
    "run": (
        Note(
            "a recorded run and its replay",
            (
                (
                    "Top, Each tensor's gradient norm at each step",
                    "x: “step”. One row per parameter tensor, grouped by module (white rules"
                    " between groups) and sorted as chosen. Colour bar: “log₁₀ ‖∇‖ (red: inf or"
                    " NaN; grey: 0)”, each tensor's gradient norm before clipping; grey cells: a"
                    " gradient of exactly 0 (saturated units pass none back). White ticks: each"
                    " tensor's first spike. Red dashes: the first step whose loss or gradient is"
                    " inf or NaN.",
                ),
                (
                    "Middle, Global gradient norm and Loss",
                    "x: “step”. y: “‖∇L‖”, the global norm N (log scale); red circles: the"
                    " steps spike detection flags. Right: y: “loss”, as the run gave it (log"
                    " scale).",
                ),
                (
                    "Bottom, What each policy does",
                    "One row per policy, the run as it was on top: grey leaves the gradient,"
                    " blue clips it, purple skips the update. Black triangles: each policy's first"
                    " step that differs from the run; after it, its own run would have had"
                    " other norms.",
                ),
            ),
            (
                "N = ‖(‖g₁‖₂, …, ‖g_k‖₂)‖₂; spike: N rose and |N − m| ≥ rtol·|m|, m the mean of"
                " the window",
                "ZClip: z = (N − μ)/σ; AutoClip: t = percentile_p(N₁..N_s); skip: N ≥ limit",
            ),
            "Lightning's SpikeDetection; Kumar et al. (2025), ZClip; Seetharaman et al. (2020),"
            " AutoClip; optax's skip_large_updates; torch's clip_grad_norm_;"
            f" {_ARTICLE_001} (watch the global and each layer's gradient norm).",
        ),
    ),
}
