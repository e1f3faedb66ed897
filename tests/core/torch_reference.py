"""PyTorch's autograd on the same network, for parity tests (imported only where torch is installed)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import bptt_core as bc

#: The registered cells torch.nn has a module for.
MODULES = [name for name, c in bc.CELLS.items() if c.torch_module is not None]


def torch_module(spec: bc.RNNSpec) -> torch.nn.Module:
    """The ``torch.nn`` module with the same keys as ``bc.init_params(spec)`` minus the read-out."""
    kwargs = {"nonlinearity": spec.activation} if bc.CELLS[spec.cell].chooses_activation else {}
    return getattr(torch.nn, bc.CELLS[spec.cell].torch_module)(
        spec.input_size, spec.hidden_size, num_layers=spec.num_layers, bidirectional=spec.bidirectional, **kwargs
    ).double()


def torch_bptt(spec, params, x, y, loss="mse", reduction="mean", mask=None, truncation=None, h0=None, c0=None, dx=None):
    """Loss, gradients, dL/dh0 (and dL/dc0) by autograd: packed sequences for masks with a bidirectional
    network, ``h.detach()`` every ``truncation`` steps for a unidirectional one. With a list ``dx``,
    ``dL/dx`` is appended to it."""
    module = torch_module(spec)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    T, B, _ = x.shape
    n = spec.num_layers * spec.directions
    h = torch.tensor(np.zeros((n, B, spec.hidden_size)) if h0 is None else h0, requires_grad=True)
    c = torch.tensor(np.zeros((n, B, spec.hidden_size)) if c0 is None else c0, requires_grad=True)
    state = (h, c) if spec.has_cell_state else h
    rnn_params = {k: v for k, v in tensors.items() if not k.endswith("_out")}
    xt = torch.tensor(x, requires_grad=dx is not None)
    if truncation:
        outs, carried = [], state
        for a in range(0, T, truncation):
            out, carried = torch.func.functional_call(module, rnn_params, (xt[a : a + truncation], carried))
            outs.append(out)
            carried = tuple(s.detach() for s in carried) if isinstance(carried, tuple) else carried.detach()
        output = torch.cat(outs)
    elif mask is not None and spec.bidirectional:
        lengths = torch.tensor(np.asarray(mask).sum(axis=0).astype(int))
        packed = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, enforce_sorted=False)
        out, _ = torch.func.functional_call(module, rnn_params, (packed, state))
        output, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    else:
        output, _ = torch.func.functional_call(module, rnn_params, (xt, state))
    yhat = output @ tensors["weight_out"].T + tensors["bias_out"]
    if loss == "mse":
        tok = ((yhat - torch.tensor(y)) ** 2).mean(-1)
    else:
        tok = F.cross_entropy(yhat.reshape(T * B, -1), torch.tensor(y).reshape(-1), reduction="none").reshape(T, B)
    m = torch.ones(T, B, dtype=torch.float64) if mask is None else torch.tensor(np.asarray(mask, dtype=float))
    total = (tok * m).sum() / (m.sum() if reduction == "mean" else B)
    total.backward()
    grads = {k: v.grad.numpy() for k, v in tensors.items()}
    if dx is not None:
        dx.append(xt.grad.numpy())
    return float(total.detach()), grads, h.grad.numpy(), c.grad.numpy() if spec.has_cell_state else None
