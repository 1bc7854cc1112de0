"""The science of the explorer: torch and numpy only, no plotting and no widgets.

Each function maps parameters to a frozen result of numpy arrays and floats, validates its
arguments (``ValueError`` naming the argument and its allowed values) and treats inf/NaN as data.
"""

from explorer.core._validate import MAX_SEED, MAX_THRESHOLD
from explorer.core.chain import ChainResult, chain_gradients
from explorer.core.cliff import (
    CLIFF_METHODS,
    CliffDescent,
    CliffSurface,
    cliff_descent,
    cliff_descents,
    cliff_loss,
    cliff_surface,
)
from explorer.core.clip import (
    METHODS,
    NORM_METHODS,
    SEMANTICS,
    ClipResult,
    NonFiniteNormError,
    clip_gradients,
    clip_in_place,
)
from explorer.core.inspect import ModelInspection, inspect_model
from explorer.core.meanfield import PhaseResult, mean_field_chi, phase_diagram
from explorer.core.monitor import (
    GradientHistory,
    GradientRecorder,
    NonfiniteGradient,
    gradient_norms,
)
from explorer.core.nets import ACTIVATIONS, DTYPES, INITS
from explorer.core.policies import (
    ACTIONS,
    AutoClip,
    Decision,
    GlobalNormClip,
    Policy,
    PolicyTrace,
    SkipAboveThreshold,
    SpikeDetection,
    ZClip,
    run_policy,
)
from explorer.core.replay import LIMITS as REPLAY_LIMITS
from explorer.core.replay import PolicyReplay, Replay, replay_clipping
from explorer.core.rnn import CELLS, RNN_INITS, RNNResult, rnn_gradients
from explorer.core.spectrum import NETWORKS, SpectrumResult, jacobian_spectra, jacobian_spectrum
from explorer.core.train import (
    OPTIMIZERS,
    SCENARIO_DEFAULTS,
    SCENARIOS,
    Trainer,
    TrainerSettings,
    TrainingHistory,
    regression_data,
    train,
    train_pair,
)

__all__ = [
    "ACTIONS",
    "ACTIVATIONS",
    "CELLS",
    "CLIFF_METHODS",
    "DTYPES",
    "INITS",
    "MAX_SEED",
    "MAX_THRESHOLD",
    "METHODS",
    "NETWORKS",
    "NORM_METHODS",
    "OPTIMIZERS",
    "REPLAY_LIMITS",
    "RNN_INITS",
    "SCENARIOS",
    "SCENARIO_DEFAULTS",
    "SEMANTICS",
    "AutoClip",
    "ChainResult",
    "CliffDescent",
    "CliffSurface",
    "ClipResult",
    "Decision",
    "GlobalNormClip",
    "GradientHistory",
    "GradientRecorder",
    "ModelInspection",
    "NonFiniteNormError",
    "NonfiniteGradient",
    "PhaseResult",
    "Policy",
    "PolicyReplay",
    "PolicyTrace",
    "RNNResult",
    "Replay",
    "SkipAboveThreshold",
    "SpectrumResult",
    "SpikeDetection",
    "Trainer",
    "TrainerSettings",
    "TrainingHistory",
    "ZClip",
    "chain_gradients",
    "cliff_descent",
    "cliff_descents",
    "cliff_loss",
    "cliff_surface",
    "clip_gradients",
    "clip_in_place",
    "gradient_norms",
    "inspect_model",
    "jacobian_spectra",
    "jacobian_spectrum",
    "mean_field_chi",
    "phase_diagram",
    "regression_data",
    "replay_clipping",
    "rnn_gradients",
    "run_policy",
    "train",
    "train_pair",
]
