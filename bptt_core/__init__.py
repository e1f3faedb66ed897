"""bptt_core: exact backpropagation through time for RNN, LSTM and GRU, in NumPy.

>>> import numpy as np, bptt_core as bc
>>> spec = bc.RNNSpec(cell="lstm", input_size=3, hidden_size=4, output_size=2)
>>> params = bc.init_params(spec, seed=0)
>>> x = np.random.default_rng(0).standard_normal((5, 2, 3))
>>> res = bc.bptt(spec, params, x, np.zeros((5, 2, 2)))
>>> res.dh.shape
(5, 2, 4)
>>> sorted(params)[:2]
['bias_hh_l0', 'bias_ih_l0']
"""

from .analysis.connectivity import OutputSensitivity, input_connectivity, output_sensitivity
from .analysis.contributions import gradient_contributions
from .analysis.flow import flow_matrix
from .analysis.gradcheck import numerical_gradient, relative_error
from .analysis.lyapunov import lyapunov_from_jacobians, lyapunov_spectrum
from .analysis.saturation import gate_saturation
from .bptt import bptt
from .cells import CELLS, Cell
from .checkpoint import checkpoint_schedule
from .init import INITS, init_params, orthogonal, spectral_radius
from .limits import MemoryBudgetError, WorkBudgetError
from .losses import LOSSES, REDUCTIONS
from .norms import global_norm, scaled_norm
from .online import OnlineResult, online_gradient
from .result import BPTTResult
from .spec import ACTIVATIONS, RNNSpec, layer_params, param_key
from .workspace import Workspace

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "INITS",
    "LOSSES",
    "REDUCTIONS",
    "BPTTResult",
    "Cell",
    "MemoryBudgetError",
    "OnlineResult",
    "OutputSensitivity",
    "RNNSpec",
    "WorkBudgetError",
    "Workspace",
    "bptt",
    "checkpoint_schedule",
    "flow_matrix",
    "gate_saturation",
    "global_norm",
    "gradient_contributions",
    "init_params",
    "input_connectivity",
    "layer_params",
    "lyapunov_from_jacobians",
    "lyapunov_spectrum",
    "numerical_gradient",
    "online_gradient",
    "orthogonal",
    "output_sensitivity",
    "param_key",
    "relative_error",
    "scaled_norm",
    "spectral_radius",
]
