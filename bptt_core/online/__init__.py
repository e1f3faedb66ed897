"""Learning without storing the past: gradients computed forward in time.

BPTT stores what backward needs for every step, so its memory grows with T. The online
methods carry instead an influence ``d s_t / d theta`` forward and turn each step's loss into
its share of the gradient at once: memory independent of T, paid for in another currency.

============  ====================================  ==============================  ==========================
method        influence kept                        memory (one layer)              gradient
============  ====================================  ==============================  ==========================
``rtrl``      all of ``d s_t / d theta``            ``B S P``, O(H^3)               exact (= BPTT)
``uoro``      a rank-one estimate ``s~ theta~^T``   ``B (S + P)``, O(H^2)           unbiased, noisy
``snap1``     each parameter on its own unit        ``B n P``, O(H^2)               biased
``diagonal``  SnAp-1 where it is exact              ``B n P``                       exact, diagonal J only
``tbptt``     none: BPTT in windows of k steps      ``k`` steps of tape             biased
``bptt``      none: the tape (or checkpoints)       ``T`` steps of tape             exact
============  ====================================  ==============================  ==========================

Every method is called through :func:`online_gradient` and returns the same
:class:`OnlineResult` (loss, gradients, memory ledger, FLOPs); :func:`method_table` compares
them with exact BPTT for a figure, :func:`cost_table` sets their memory, FLOPs and time against
H and T, and :func:`crossover_length` finds the length beyond which RTRL holds less than BPTT
(:func:`stored_crossover` gives it in closed form for what each stores).
"""

from .compare import CostRow, MethodRow, cost_table, crossover_length, gradient_statistics, method_table
from .costs import flop_counts, influence_bytes, online_bytes, stored_crossover
from .gradient import METHODS, OnlineResult, online_gradient

__all__ = [
    "METHODS",
    "CostRow",
    "MethodRow",
    "OnlineResult",
    "cost_table",
    "crossover_length",
    "flop_counts",
    "gradient_statistics",
    "influence_bytes",
    "method_table",
    "online_bytes",
    "online_gradient",
    "stored_crossover",
]
