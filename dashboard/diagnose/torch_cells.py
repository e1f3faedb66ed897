"""The LRU and minGRU as PyTorch modules, written from their papers' equations, with the engine's parameter names.

PyTorch has no module for either. These follow ``torch.nn``'s conventions, so that a model of the dashboard
or of a diagnosis can be taken to PyTorch: a cell per step (``forward(input, hx=None)``, as ``nn.GRUCell``)
and :class:`Recurrent`, a stack of layers and directions (as ``nn.GRU``) whose ``state_dict`` keys are the
engine's (``nu_log_l0``, ``weight_ih_l1_reverse``, ...). It runs torch's own cells too
(``Recurrent(nn.LSTMCell, ...)`` has ``nn.LSTM``'s keys). The diagnosis's reproduce script embeds this file;
it needs torch only.
"""

import math

import torch
from torch import nn


class LRUCell(nn.Module):
    """The Linear Recurrent Unit (Orvieto et al. 2023, arXiv 2303.06349), one step.

    ``lambda = exp(-exp(nu_log) + i exp(theta_log))``, ``x_t = lambda x_{t-1} + exp(gamma_log) (B u_t)`` with
    ``B = B_re + i B_im``, ``y_t = Re(C x_t) + D u_t`` with ``C = C_re + i C_im``. The state is ``(y, x)``, ``x``
    complex (batch, hidden_size); ``y`` does not recur. Initialisation: ``|lambda|`` uniform on the ring
    ``[r_min, r_max]`` (in area), phase uniform in ``[0, max_phase]``, ``gamma = sqrt(1 - |lambda|^2)``.
    """

    def __init__(self, input_size, hidden_size, r_min=0.9, r_max=0.999, max_phase=math.pi / 10):
        super().__init__()
        H, I = hidden_size, input_size
        shapes = {"nu_log": (H,), "theta_log": (H,), "B_re": (H, I), "B_im": (H, I), "C_re": (H, H)}
        shapes |= {"C_im": (H, H), "D": (H, I), "gamma_log": (H,)}
        for name, shape in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.empty(shape)))
        self.hidden_size = H
        self.reset_parameters(r_min, r_max, max_phase)

    @torch.no_grad()
    def reset_parameters(self, r_min=0.9, r_max=0.999, max_phase=math.pi / 10):
        H, I = self.B_re.shape
        u1, u2 = torch.rand(H, dtype=torch.float64), torch.rand(H, dtype=torch.float64)  # float64: |lambda| near 1
        nu_log = torch.log(-0.5 * torch.log((u1 * (r_max**2 - r_min**2) + r_min**2).clamp(1e-300, 1 - 1e-12)))
        self.nu_log.copy_(nu_log)
        self.theta_log.copy_(torch.log((max_phase * u2).clamp_min(1e-300)))
        for w, std in ((self.B_re, (2 * I) ** -0.5), (self.B_im, (2 * I) ** -0.5), (self.D, I**-0.5)):
            w.normal_(0.0, std)
        self.C_re.normal_(0.0, H**-0.5), self.C_im.normal_(0.0, H**-0.5)
        self.gamma_log.copy_(0.5 * torch.log1p(-torch.exp(-2 * torch.exp(nu_log))))

    def forward(self, input, hx=None):
        lam = torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
        b = torch.complex(self.B_re, self.B_im) * torch.exp(self.gamma_log)[:, None]
        x_prev = torch.zeros(input.shape[0], self.hidden_size, dtype=lam.dtype) if hx is None else hx[1]
        x = lam * x_prev + input.to(lam.dtype) @ b.T
        y = (x @ torch.complex(self.C_re, self.C_im).T).real + input @ self.D.T
        return y, x


class MinGRUCell(nn.Module):
    """minGRU (Feng et al. 2024, arXiv 2410.01201), one step: ``z = sigmoid(W_z x + b_z)``, ``h~ = W_h x + b_h``,
    ``h = (1 - z) h_prev + z h~``. ``weight_ih`` stacks ``[W_z; W_h]`` and ``bias_ih`` ``[b_z; b_h]``; no ``W_hh``.
    Initialisation: ``nn.Linear``'s, U(-k, k) with k = 1/sqrt(input_size)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        k = input_size**-0.5
        self.weight_ih = nn.Parameter(torch.empty(2 * hidden_size, input_size).uniform_(-k, k))
        self.bias_ih = nn.Parameter(torch.empty(2 * hidden_size).uniform_(-k, k))
        self.hidden_size = hidden_size

    def forward(self, input, hx=None):
        z, h_tilde = (input @ self.weight_ih.T + self.bias_ih).chunk(2, dim=-1)
        z = torch.sigmoid(z)
        h_prev = torch.zeros_like(h_tilde) if hx is None else hx
        return (1 - z) * h_prev + z * h_tilde


#: The engine's cells without a torch.nn module, by their registry name.
CELLS = {"lru": LRUCell, "mingru": MinGRUCell}


def reverse_within(x, lengths):
    """Each sequence's first ``lengths[b]`` steps in reverse order, its padding left in place (an involution)."""
    t = torch.arange(x.shape[0])[:, None]
    n = torch.as_tensor(lengths)[None, :]
    index = torch.where(t < n, n - 1 - t, t)
    return x.gather(0, index.reshape(*index.shape, *[1] * (x.dim() - 2)).expand_as(x))


class Recurrent(nn.Module):
    """A stack of ``cell`` layers (``cell(input_size, hidden_size)``), as ``nn.RNN/LSTM/GRU`` stack theirs.

    Layer l > 0 reads the outputs of layer l - 1 (both directions, concatenated). Parameters are named as in
    ``nn.GRU``'s state dict: ``{name}_l{l}`` and ``{name}_l{l}_reverse``. ``forward(input, lengths=None)`` takes
    ``input`` (T, batch, input_size) and returns the top layer's outputs (T, batch, D * hidden_size) and
    ``steps``: ``steps[l, d][k]`` is the output of layer l, direction d at its k-th step (tensors of the graph,
    so ``retain_grad`` reads their gradients). The reverse direction of a sequence of length n < T starts at its
    last step, as with packed sequences: its k-th step is time n - 1 - k, and :func:`reverse_within` puts a
    stack of its steps (T, batch, ...) in time order.
    """

    def __init__(self, cell, input_size, hidden_size, num_layers=1, bidirectional=False):
        super().__init__()
        self.num_layers, self.directions = num_layers, 2 if bidirectional else 1
        self._cells = {}  # plain attributes: their parameters live on this module, under the state dict's names
        for layer in range(num_layers):
            for d in range(self.directions):
                step = cell(input_size if layer == 0 else self.directions * hidden_size, hidden_size)
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                for name, p in step.named_parameters():
                    self.register_parameter(name + suffix, p)
                self._cells[layer, d] = (step, suffix, [name for name, _ in step.named_parameters()])

    def forward(self, input, lengths=None):
        lengths = torch.full((input.shape[1],), input.shape[0]) if lengths is None else torch.as_tensor(lengths)
        steps, x = {}, input
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.directions):
                step, suffix, names = self._cells[layer, d]
                weights = {name: getattr(self, name + suffix) for name in names}
                seq, state, hs = x if d == 0 else reverse_within(x, lengths), None, []
                for t in range(seq.shape[0]):
                    state = torch.func.functional_call(step, weights, (seq[t], state))
                    hs.append(state[0] if isinstance(state, tuple) else state)
                out = torch.stack(hs)
                outs.append(out if d == 0 else reverse_within(out, lengths))
                steps[layer, d] = hs
            x = torch.cat(outs, dim=-1)
        return x, steps
