"""How each registered cell is shown: one table, :data:`VIEWS`, with a row per cell of ``bc.CELLS``.

Colours, readable gate names, the step's equations with this run's numbers (forward and backward) and
the wording of its step Jacobian. The engine knows nothing of this; a new cell adds one row here (and a
test fails until it does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import bptt_core as bc

ACT_LATEX = {"tanh": r"\tanh", "relu": r"\mathrm{relu}", "sigmoid": r"\sigma", "linear": r"\mathrm{id}"}
ACT_PRIME = {"tanh": r"1 - h_t^2", "relu": r"[h_t > 0]", "sigmoid": r"h_t (1 - h_t)", "linear": "1"}


#: How a parameter is written in captions and legends (other names are shown as they are).
PARAM_LABELS = {"weight_hh": "W_hh", "weight_ih": "W_ih", "nu_log": "ν (nu_log)", "theta_log": "θ (theta_log)"}


def param_label(name: str) -> str:
    """``W_hh`` for ``weight_hh``; a parameter without a label keeps its name."""
    return PARAM_LABELS.get(name, name)


def number(v: float) -> str:
    """A number for LaTeX: ``-4.317 \\times 10^{-5}``, never ``e-05`` (which reads as a subtraction)."""
    text = f"{v:.4g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


@dataclass(frozen=True)
class Carried:
    """What flows back into ``h_t`` from step t + 1: every path, by PyTorch's documented cell equations.

    Attributes
    ----------
    latex : str
        The term for unit j, e.g. ``(W_hh^T delta_{t+1})_j``.
    through : tuple of str
        The parts of the next state ``s_{t+1}`` it carries gradient from (``h``, and ``c`` for the LSTM):
        ``h_t`` feeds step t + 1's gates, and they feed every part.
    delta : str
        LaTeX defining the ``delta_{t+1}`` the term names.
    text : str
        The same term in plain text, row-vector convention (the chain-rule page's table).
    """

    latex: str
    through: tuple[str, ...]
    delta: str
    text: str


RNN_CARRIED = Carried(
    r"\big(W_{hh}^\top \delta_{t+1}\big)_j",
    ("h",),
    r"\delta_{t+1} = \frac{\partial L}{\partial h_{t+1}} \odot \phi'(z_{t+1})",
    "δ_{t+1} · W_hh, δ_{t+1} = ∂L/∂h_{t+1} ⊙ φ′(z_{t+1})",
)
LSTM_CARRIED = Carried(
    r"\big(W_{hh}^\top \delta_{t+1}\big)_j",
    ("h", "c"),
    r"\delta_{t+1} = \frac{\partial L}{\partial a_{t+1}}\quad\text{(gates } i, f, g, o\text{ of step } t+1)",
    "δ_{t+1} · W_hh, δ_{t+1} = ∂L/∂a_{t+1} of the gates i, f, g, o (they feed c_{t+1} and h_{t+1})",
)
GRU_CARRIED = Carried(
    r"\Big(z_{t+1} \odot \frac{\partial L}{\partial h_{t+1}} + W_{hh}^\top \delta_{t+1}\Big)_j",
    ("h",),
    r"\delta_{t+1} = \Big(\frac{\partial L}{\partial a^r},\ \frac{\partial L}{\partial a^z},\ "
    r"r \odot \frac{\partial L}{\partial a^n}\Big)_{t+1}",
    "z_{t+1} ⊙ ∂L/∂h_{t+1} + δ_{t+1} · W_hh, δ_{t+1} = (∂L/∂a^r, ∂L/∂a^z, r ⊙ ∂L/∂a^n) at t+1",
)

#: The LRU's output y_t (its "h") does not recur: only the complex state x_t does, and it does not reach y_t's
#: gradient from step t + 1 (∂L/∂x_t receives that instead).
LRU_CARRIED = Carried("0", (), "", "0 (y_t does not recur; the state x_t carries λ̄ ⊙ ∂L/∂x_{t+1})")
MINGRU_CARRIED = Carried(
    r"\big((1 - z_{t+1}) \odot \frac{\partial L}{\partial h_{t+1}}\big)_j",
    ("h",),
    r"\text{(} z_{t+1} \text{ and } \tilde h_{t+1} \text{ read } x_{t+1} \text{ only: no } W_{hh})",
    "(1 − z_{t+1}) ⊙ ∂L/∂h_{t+1}",
)


@dataclass(frozen=True)
class CellView:
    """Presentation of one cell.

    Attributes
    ----------
    label : str
    color : str
        One colour per cell in every figure.
    gate_labels : dict of str to str
        Readable name of each gate block, keyed like ``Cell.gate_names``.
    forward, backward : callable
        ``(t, j, numbers, activation) -> list of LaTeX lines`` for step t, unit j, with the numbers of
        :func:`dashboard.catalog.compute.step_equation`.
    jacobian : str
        What ``∂h_t/∂a_t`` is for this cell (the chain-rule page).
    carried : Carried
        The gradient ``h_t`` receives from step t + 1, written with every path.
    law : str
        The closed-form law of a cell with ``Cell.decay`` (a diagonal recurrence): what the norm of
        ``∂s_t/∂s_0`` is, in plain text; "" for the others.
    edit : str
        What editing the cell's recurrent parameter (``Cell.term_params[0]``) does, for the Weights page.
    """

    label: str
    color: str
    gate_labels: dict[str, str]
    forward: Callable[[int, int, dict, str], list[str]]
    backward: Callable[[int, int, dict, str], list[str]]
    jacobian: str
    carried: Carried
    law: str = ""
    edit: str = ""


def _dh_lines(idx: str, v: dict, carried: Carried) -> list[str]:
    """Where dL/dh_t comes from: the loss at t through the read-out (the top layer) or the layer above
    at t (a lower layer: ``v`` has no ``dh_direct`` then, only the total), and what flows back from t + 1
    by every path (``carried``)."""
    pad = rf"\phantom{{\frac{{\partial L}}{{\partial h{idx}}}}}"
    here = r"\text{loss at } t" if "dh_direct" in v else r"\text{layer above at } t"
    source = (
        rf"\frac{{\partial l_t}}{{\partial h{idx}}}"
        if "dh_direct" in v
        else r"\big(W_{ih}^{\uparrow\top} \delta^{\uparrow}_t\big)_j"
    )
    via = (
        r"\text{ and }".join(f"{part}_{{t+1}}" for part in carried.through)
        or r"\text{nothing: } h_t \text{ does not recur}"
    )
    lines = [
        rf"\frac{{\partial L}}{{\partial h{idx}}} = \underbrace{{{source}}}_{{{here}}} + "
        rf"\underbrace{{{carried.latex}}}_{{\text{{from step }} t+1 \text{{ via }} {via}}}",
    ]
    if "dh_direct" in v:
        lines.append(rf"{pad} = {number(v['dh_direct'])} + ({number(v['dh_carried'])})")
    lines.append(rf"{pad} = {number(v['dh'])}")
    if "dh_direct" not in v:
        lines.append(
            r"\delta^{\uparrow}_t = \frac{\partial L}{\partial (W^{\uparrow}_{ih} h_t)}\quad\text{(layer above, "
            r"step } t)"
        )
    return [*lines, carried.delta]


def _weight_line() -> str:
    return (
        r"\frac{\partial L}{\partial W_{hh}} \mathrel{+}= \delta_t\, h_{t-1}^\top"
        r"\quad\text{(the same } W_{hh} \text{ at every step)}"
    )


def _rnn_forward(t: int, j: int, v: dict, activation: str) -> list[str]:
    idx = f"_{{{t},{j}}}"
    z = v["x_term"] + v["h_term"]
    return [
        rf"z{idx} = \underbrace{{(W_{{ih}} x_t + b_{{ih}})_{j}}}_{{{number(v['x_term'])}}}"
        rf" + \underbrace{{(W_{{hh}} h_{{t-1}} + b_{{hh}})_{j}}}_{{{number(v['h_term'])}}} = {number(z)}",
        rf"h{idx} = {ACT_LATEX[activation]}(z{idx}) = {number(v['h'])}",
    ]


def _rnn_backward(t: int, j: int, v: dict, activation: str) -> list[str]:
    idx = f"_{{{t},{j}}}"
    return [
        *_dh_lines(idx, v, RNN_CARRIED),
        rf"\delta{idx} = \frac{{\partial L}}{{\partial h{idx}}}\,\phi'(z{idx})",
        rf"\phantom{{\delta{idx}}} = {number(v['dh'])} \cdot \underbrace{{{number(v['dphi'])}}}"
        rf"_{{{ACT_PRIME[activation]}}} = {number(v['dz'])}",
        r"\Big(\frac{\partial L}{\partial h_t}\frac{\partial h_t}{\partial h_{t-1}}\Big) = W_{hh}^\top \delta_t",
        r"\text{goes to step } t-1 \text{ (plus } \partial l_{t-1}/\partial h_{t-1} \text{ there)}",
        _weight_line(),
    ]


def _lstm_forward(t: int, j: int, v: dict, activation: str) -> list[str]:
    idx = f"_{{{t},{j}}}"
    return [
        rf"i = {number(v['i'])},\; f = {number(v['f'])},\; g = {number(v['g'])},\; o = {number(v['o'])}",
        rf"c{idx} = f\, c_{{t-1}} + i\, g",  # symbols, then numbers: one line is too wide for a column
        rf"\phantom{{c{idx}}} = {number(v['f'])} \cdot ({number(v['c_prev'])}) + {number(v['i'])} \cdot "
        rf"({number(v['g'])}) = {number(v['c'])}",
        rf"h{idx} = o \tanh(c_t) = {number(v['o'])} \cdot \tanh({number(v['c'])}) = {number(v['h'])}",
    ]


def _lstm_backward(t: int, j: int, v: dict, activation: str) -> list[str]:
    idx = f"_{{{t},{j}}}"
    return [
        *_dh_lines(idx, v, LSTM_CARRIED),
        r"\frac{\partial L}{\partial c_t} = \frac{\partial L}{\partial h_t}\, o_t (1 - \tanh^2 c_t)"
        r" + \frac{\partial L}{\partial c_{t+1}}\, f_{t+1}",
        r"\frac{\partial L}{\partial c_{t-1}} \ni f_t \odot \frac{\partial L}{\partial c_t}",
        r"\text{(the cell-state path: no weight matrix in between)}",
        r"\delta_t = \big(\tfrac{\partial L}{\partial c_t} g_t\, i_t(1-i_t),\;"
        r" \tfrac{\partial L}{\partial c_t} c_{t-1} f_t(1-f_t),\; \dots\big)",
        r"\Big(\frac{\partial L}{\partial h_{t-1}}\Big)_{\text{from step } t} = W_{hh}^\top \delta_t"
        r"\quad\text{(through } c_t \text{ and } h_t\text{)}",
        _weight_line(),
    ]


def _blend(idx: str, v: dict, first: tuple[str, str], second: tuple[str, str]) -> list[str]:
    """``h = (1 - z) a + z b`` in symbols, then in numbers; ``first``/``second`` are (number key, symbol)."""
    (a, a_sym), (b, b_sym) = first, second
    return [
        rf"h{idx} = (1 - z)\, {a_sym} + z\, {b_sym}",
        rf"\phantom{{h{idx}}} = (1 - {number(v['z'])}) \cdot ({number(v[a])}) + {number(v['z'])} \cdot "
        rf"({number(v[b])}) = {number(v['h'])}",
    ]


def _gru_forward(t: int, j: int, v: dict, activation: str) -> list[str]:
    idx = f"_{{{t},{j}}}"
    return [
        rf"r = {number(v['r'])},\; z = {number(v['z'])}\quad\text{{(reset and update gates)}}",
        rf"n = \tanh\big((W_{{in}} x_t + b_{{in}})_j + r\,(W_{{hn}} h_{{t-1}} + b_{{hn}})_j\big) = {number(v['n'])}",
        *_blend(idx, v, ("n", "n"), ("h_prev", "h_{t-1}")),
    ]


def _gru_backward(t: int, j: int, v: dict, activation: str) -> list[str]:
    idx = f"_{{{t},{j}}}"
    return [
        *_dh_lines(idx, v, GRU_CARRIED),
        r"\Big(\frac{\partial L}{\partial h_{t-1}}\Big)_{\text{from step } t} = z_t \odot "
        r"\frac{\partial L}{\partial h_t} + W_{hh}^\top \delta_t",
        _weight_line(),
    ]


def _lru_forward(t: int, j: int, v: dict, activation: str) -> list[str]:
    idx = f"_{{{t},{j}}}"
    modulus = float(np.hypot(v["lambda.re"], v["lambda.im"]))
    return [
        rf"\lambda_{j} = e^{{-e^{{\nu_{j}}} + i e^{{\theta_{j}}}}} = {number(v['lambda.re'])} "
        rf"{'+' if v['lambda.im'] >= 0 else '-'} {number(abs(v['lambda.im']))}\,i,"
        rf"\quad |\lambda_{j}| = {number(modulus)}",
        rf"x{idx} = \lambda_{j}\, x_{{t-1,{j}}} + \gamma_{j} (B u_t)_{j}"
        rf" = {number(v['x[0]'])} {'+' if v['x[1]'] >= 0 else '-'} {number(abs(v['x[1]']))}\,i",
        rf"y{idx} = \mathrm{{Re}}(C x_t)_{j} + (D u_t)_{j} = {number(v['h'])}\quad\text{{(the layer's output)}}",
    ]


def _lru_backward(t: int, j: int, v: dict, activation: str) -> list[str]:
    idx = f"_{{{t},{j}}}"
    modulus = float(np.hypot(v["lambda.re"], v["lambda.im"]))
    return [
        *_dh_lines(idx, v, LRU_CARRIED),
        r"\text{(} y_t \text{ does not recur: nothing comes from step } t+1 \text{ through it)}",
        r"\frac{\partial L}{\partial x_t} = C^{H} \frac{\partial L}{\partial y_t}"
        r" + \bar\lambda \odot \frac{\partial L}{\partial x_{t+1}}",
        rf"\Big|\frac{{\partial x_{{t,{j}}}}}{{\partial x_{{t-k,{j}}}}}\Big| = |\lambda_{j}|^k = {number(modulus)}^k"
        r"\quad\text{(exactly: the recurrence is linear and diagonal)}",
        r"\frac{\partial L}{\partial \lambda} = \sum_t \frac{\partial L}{\partial x_t}\, \bar x_{t-1}"
        r"\quad\text{(the same } \lambda \text{ at every step)}",
    ]


def _mingru_forward(t: int, j: int, v: dict, activation: str) -> list[str]:
    idx = f"_{{{t},{j}}}"
    return [
        rf"z = \sigma(W_z x_t + b_z)_j = {number(v['z'])},\; \tilde h = (W_h x_t + b_h)_j = {number(v['h~'])}",
        r"\text{(neither reads } h_{t-1}\text{: no } W_{hh}\text{)}",
        *_blend(idx, v, ("h_prev", "h_{t-1}"), ("h~", r"\tilde h")),
    ]


def _mingru_backward(t: int, j: int, v: dict, activation: str) -> list[str]:
    idx = f"_{{{t},{j}}}"
    return [
        *_dh_lines(idx, v, MINGRU_CARRIED),
        rf"\frac{{\partial L}}{{\partial h_{{t-1}}}} = (1 - z_t) \odot \frac{{\partial L}}{{\partial h_t}}"
        rf"\ni (1 - {number(v['z'])}) \cdot ({number(v['dh'])}) = {number((1 - v['z']) * v['dh'])}",
        r"\frac{\partial h_t}{\partial h_k} = \prod_{s=k+1}^{t} \mathrm{diag}(1 - z_s)"
        r"\quad\text{(the only path back)}",
        r"\frac{\partial L}{\partial W_{ih}} \mathrel{+}= \delta_t\, x_t^\top"
        r"\quad\text{(}[W_z; W_h]\text{, the same at every step)}",
    ]


VIEWS: dict[str, CellView] = {
    "rnn": CellView("RNN", "#d62728", {"a": "W_hh (all)"}, _rnn_forward, _rnn_backward, "diag φ'(a_t)", RNN_CARRIED),
    "lstm": CellView(
        "LSTM",
        "#1f77b4",
        {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o"},
        _lstm_forward,
        _lstm_backward,
        "gate derivatives, per element",
        LSTM_CARRIED,
    ),
    "gru": CellView(
        "GRU",
        "#2ca02c",
        {"r": "reset gate r", "z": "update gate z", "n": "candidate n"},
        _gru_forward,
        _gru_backward,
        "gate derivatives, per element",
        GRU_CARRIED,
    ),
    "lru": CellView(
        "LRU",
        "#8c564b",
        {},
        _lru_forward,
        _lru_backward,
        "∂y_t/∂x_t = Re C, and ∂x_t/∂x_{t-1} = diag(λ)",
        LRU_CARRIED,
        law="max_n |λ_n|^k",
        edit="|λ| = exp(−exp ν): a larger ν shrinks |λ| and the memory; ν = ln(−ln 0.999) ≈ −6.9 gives |λ| = 0.999.",
    ),
    "mingru": CellView(
        "minGRU",
        "#e377c2",
        {"z": "update gate z", "h~": "candidate h~"},
        _mingru_forward,
        _mingru_backward,
        "z on the candidate, (h~ − h_{t-1}) z(1 − z) on the gate, per element",
        MINGRU_CARRIED,
        law="max_n ∏_{s=1..k} (1 − z_{s,n})",
        edit="The z rows set the update gate: a more negative b_z closes z and keeps h (1 − z near 1).",
    ),
}


#: How the sidebar names each cell's own init option (``Cell.init_options``): label, step and help.
INIT_OPTION_VIEWS = {
    "r_min": ("Smallest |λ| at init (r_min)", 0.001, "λ starts on the ring r_min ≤ |λ| ≤ r_max (Orvieto et al. 2023)."),
    "r_max": ("Largest |λ| at init (r_max)", 0.001, "|λ| near 1 keeps a gradient for about 1/(1 − |λ|) steps."),
    "max_phase": ("Largest phase of λ (max_phase)", 0.01, "Phases arg λ start uniform in [0, max_phase] (radians)."),
}


def cell_name(cell: str, activation: str = "tanh") -> str:
    """How pages name a cell: its label, with the non-linearity where the cell lets it be chosen ("RNN (relu)")."""
    chosen = bc.CELLS[cell].chooses_activation
    return VIEWS[cell].label + (f" ({activation})" if chosen else "")


def jacobian_shapes(spec: bc.RNNSpec, T: int, B: int) -> list[tuple[str, str, str]]:
    """The chain rule of one BPTT step for tensors: (quantity, expression, shape) rows.

    Shapes are per batch element where the Jacobian is block-diagonal over the batch. In a stack the
    read-out sees the top layer's ``[h_fwd, h_bwd]`` (D·H wide) and every layer above the first reads
    the D·H outputs of the layer below; the rows then name layer l.
    """
    cell = bc.CELLS[spec.cell]
    H, I, O, GH = spec.hidden_size, spec.input_size, spec.output_size, cell.width * spec.hidden_size
    DH = spec.directions * H
    S = spec.jacobian_width
    over = " over [" + ", ".join(cell.jacobian_parts) + "]" if len(cell.jacobian_parts) > 1 or S != H else ""
    names = list(cell.param_shapes(H, I))
    deep = spec.num_layers > 1 or spec.bidirectional
    top = "the top layer's outputs [h_fwd, h_bwd]" if spec.bidirectional else "the top layer's h_t"
    rows = [
        ("∂L/∂ŷ_t", "loss gradient at step t", f"({B}, {O})"),
        ("∂ŷ_t/∂h_t", f"W_out, reading {top}" if deep else "W_out", f"({O}, {DH})"),
        ("∂L/∂h_t", f"∂L/∂ŷ_t · W_out + {VIEWS[spec.cell].carried.text}", f"({B}, {H})"),
    ]
    if spec.num_layers > 1:
        rows.append(
            (
                "∂L/∂h_t⁽ˡ⁾, l below the top",
                "∂L/∂a_t⁽ˡ⁺¹⁾ · W_ih⁽ˡ⁺¹⁾ (the layer above's input pre-activations) + the term from step t+1 "
                "as above, in layer l",
                f"({B}, {H})",
            )
        )
    diagonal = cell.pascanu_bound and cell.gamma is None  # h = phi(a): the vanilla RNN
    rows.append(
        ("∂h_t/∂a_t", VIEWS[spec.cell].jacobian, f"{B} × ({H}, {H}) diagonal" if diagonal else f"{B} × ({H}, {GH})")
    )
    if "weight_hh" in names:
        rows.append(("∂a_t/∂h_{t-1}", "W_hh (pre-activations of all gates)", f"({GH}, {H})"))
    rows.append(("∂h_t/∂h_{t-1}", "the step Jacobian J_t", f"{B} × ({S}, {S}){over}"))
    if "weight_hh" in names:
        rows.append(
            ("∂L/∂W_hh", "Σ_t δ_tᵀ h_{t-1} (tied weights: summed over the T steps)", f"({GH}, {H}) from {T} terms")
        )
    projection = "∂L/∂W_ih" if "weight_ih" in names else "∂L/∂(input projection)"
    rows.append((projection, "Σ_t δ_tᵀ x_t" + (" (layer 0)" if spec.num_layers > 1 else ""), f"({GH}, {I})"))
    if spec.num_layers > 1:
        rows.append(("∂L/∂W_ih⁽ˡ⁾, l ≥ 1", "Σ_t δ_t⁽ˡ⁾ᵀ h_t⁽ˡ⁻¹⁾ (the layer below's outputs)", f"({GH}, {DH})"))
    rows.append(("∂L/∂W_out", f"Σ_t (∂L/∂ŷ_t)ᵀ {'[h_fwd, h_bwd]' if spec.bidirectional else 'h_t'}", f"({O}, {DH})"))
    if deep:
        rows.append(
            (
                "parameters",
                f"every layer and direction has its own {', '.join(names)}",
                f"{spec.num_layers * spec.directions} sets",
            )
        )
    return rows
