"""The equations of one step, in LaTeX, with the run's actual numbers filled in."""

from __future__ import annotations

ACT_LATEX = {"tanh": r"\tanh", "relu": r"\mathrm{relu}", "sigmoid": r"\sigma", "linear": r"\mathrm{id}"}
ACT_PRIME = {"tanh": r"1 - h_t^2", "relu": r"[h_t > 0]", "sigmoid": r"h_t (1 - h_t)", "linear": "1"}


def _n(v: float) -> str:
    return f"{v:.4g}".replace("e", r"\mathrm{e}")


def forward_latex(cell: str, activation: str, t: int, j: int, v: dict[str, float]) -> list[str]:
    """Forward equations of step ``t`` for unit ``j`` with numbers ``v`` (from ``compute.step_equation``)."""
    idx = f"_{{{t},{j}}}"
    if cell == "rnn":
        phi = ACT_LATEX[activation]
        z = v["x_term"] + v["h_term"]
        return [
            rf"z{idx} = \underbrace{{(W_{{ih}} x_t + b_{{ih}})_{j}}}_{{{_n(v['x_term'])}}}"
            rf" + \underbrace{{(W_{{hh}} h_{{t-1}} + b_{{hh}})_{j}}}_{{{_n(v['h_term'])}}} = {_n(z)}",
            rf"h{idx} = {phi}(z{idx}) = {_n(v['h'])}",
        ]
    if cell == "lstm":
        return [
            rf"i = {_n(v['i'])},\; f = {_n(v['f'])},\; g = {_n(v['g'])},\; o = {_n(v['o'])}",
            rf"c{idx} = f\, c_{{t-1}} + i\, g",  # symbols, then numbers: one line is too wide for a column
            rf"\phantom{{c{idx}}} = {_n(v['f'])} \cdot ({_n(v['c_prev'])}) + {_n(v['i'])} \cdot "
            rf"({_n(v['g'])}) = {_n(v['c'])}",
            rf"h{idx} = o \tanh(c_t) = {_n(v['o'])} \cdot \tanh({_n(v['c'])}) = {_n(v['h'])}",
        ]
    return [
        rf"r = {_n(v['r'])},\; z = {_n(v['z'])}\quad\text{{(reset and update gates)}}",
        rf"n = \tanh\big((W_{{in}} x_t + b_{{in}})_j + r\,(W_{{hn}} h_{{t-1}} + b_{{hn}})_j\big) = {_n(v['n'])}",
        rf"h{idx} = (1 - z)\, n + z\, h_{{t-1}}",
        rf"\phantom{{h{idx}}} = (1 - {_n(v['z'])}) \cdot ({_n(v['n'])}) + {_n(v['z'])} \cdot "
        rf"({_n(v['h_prev'])}) = {_n(v['h'])}",
    ]


def backward_latex(cell: str, activation: str, t: int, j: int, v: dict[str, float]) -> list[str]:
    """Backward equations of step ``t`` for unit ``j``: where ``dL/dh_t`` comes from and where it goes."""
    idx = f"_{{{t},{j}}}"
    lines = [
        rf"\frac{{\partial L}}{{\partial h{idx}}} = \underbrace{{\frac{{\partial l_t}}{{\partial h{idx}}}}}"
        rf"_{{\text{{loss at }} t}} + \underbrace{{\Big(\frac{{\partial L}}"
        rf"{{\partial h_{{t+1}}}} \frac{{\partial h_{{t+1}}}}{{\partial h_t}}\Big)_{j}}}_{{\text{{from step }} t+1}}",
        rf"\phantom{{\frac{{\partial L}}{{\partial h{idx}}}}} = {_n(v['dh_direct'])} + ({_n(v['dh_carried'])})"
        rf" = {_n(v['dh'])}",
    ]
    if cell == "rnn":
        lines.append(
            rf"\delta{idx} = \frac{{\partial L}}{{\partial h{idx}}}\,\phi'(z{idx}) = {_n(v['dh'])} \cdot "
            rf"\underbrace{{{_n(v['dphi'])}}}_{{{ACT_PRIME[activation]}}} = {_n(v['dz'])}"
        )
        lines.append(
            r"\frac{\partial L}{\partial h_{t-1}} = W_{hh}^\top \delta_t, \qquad "
            r"\frac{\partial L}{\partial W_{hh}} \mathrel{+}= \delta_t\, h_{t-1}^\top"
        )
    else:
        lines.append(
            r"\text{gate pre-activation gradients } \delta_t \text{ give } "
            r"\frac{\partial L}{\partial h_{t-1}} = W_{hh}^\top \delta_t + \dots"
        )
        lines.append(
            r"\frac{\partial L}{\partial W_{hh}} \mathrel{+}= \delta_t\, h_{t-1}^\top"
            r"\quad\text{(the same } W_{hh} \text{ at every step)}"
        )
    return lines
