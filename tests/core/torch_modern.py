"""The LRU and minGRU written again in PyTorch, from their papers' equations, for autograd parity tests.

Nothing here is shared with the engine: the layers are plain loops over time on torch tensors
(complex tensors for the LRU), the bidirectional reverse direction of a padded sequence runs on
that sequence alone (as packed sequences do), truncation is ``state.detach()`` every k steps.
Imported only where torch is installed.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def lru_layer(p: dict, u: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Orvieto et al. 2023: ``x_t = lambda x_{t-1} + gamma (B u_t)``, ``y_t = Re(C x_t) + D u_t``, x_0 = 0.

    ``u`` (T, B, I) -> ``y`` (T, B, H); ``p`` holds one layer-direction's tensors by short name.
    """
    lam = torch.exp(-torch.exp(p["nu_log"]) + 1j * torch.exp(p["theta_log"]))
    b_norm = (p["B_re"] + 1j * p["B_im"]) * torch.exp(p["gamma_log"])[:, None]
    c = p["C_re"] + 1j * p["C_im"]
    x = torch.zeros(u.shape[1], lam.shape[0], dtype=lam.dtype)
    ys = []
    for t in range(u.shape[0]):
        if k and t and t % k == 0:
            x = x.detach()
        x = lam * x + u[t].to(lam.dtype) @ b_norm.T
        ys.append((x @ c.T).real + u[t] @ p["D"].T)
    return torch.stack(ys)


def mingru_layer(p: dict, u: torch.Tensor, h0: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Feng et al. 2024: ``z = sigmoid(W_z u + b_z)``, ``h~ = W_h u + b_h``, ``h = (1 - z) h + z h~``.

    ``weight_ih`` stacks ``[W_z; W_h]``, ``bias_ih`` ``[b_z; b_h]``.
    """
    H = p["weight_ih"].shape[0] // 2
    w_z, w_h = p["weight_ih"][:H], p["weight_ih"][H:]
    b_z, b_h = p["bias_ih"][:H], p["bias_ih"][H:]
    h, hs = h0, []
    for t in range(u.shape[0]):
        if k and t and t % k == 0:
            h = h.detach()
        z = torch.sigmoid(u[t] @ w_z.T + b_z)
        h = (1 - z) * h + z * (u[t] @ w_h.T + b_h)
        hs.append(h)
    return torch.stack(hs)


#: Each cell's layer, by its registry name (the cells PyTorch has no module for).
LAYERS = {"lru": lambda p, u, h0, k: lru_layer(p, u, k), "mingru": mingru_layer}


def layer(cell: str, p: dict, u: torch.Tensor, h0: torch.Tensor, k: int | None) -> torch.Tensor:
    return LAYERS[cell](p, u, h0, k)


def network(spec, tensors: dict, x: torch.Tensor, h0: torch.Tensor, k: int | None) -> torch.Tensor:
    """The stack, each layer reading the one below; a bidirectional layer's reverse direction runs on the
    flipped sequence. Returns the top layer's outputs (T, B, D*H)."""
    out = x
    for l in range(spec.num_layers):
        parts = []
        for d in range(spec.directions):
            suffix = f"_l{l}" + ("_reverse" if d else "")
            p = {key[: -len(suffix)]: v for key, v in tensors.items() if key.endswith(suffix)}
            seq = out if d == 0 else out.flip(0)
            y = layer(spec.cell, p, seq, h0[l * spec.directions + d], k)
            parts.append(y if d == 0 else y.flip(0))
        out = torch.cat(parts, dim=-1)
    return out


def token_losses(yhat: torch.Tensor, y: np.ndarray, loss: str) -> torch.Tensor:
    """(T, B): mse as the mean over output units, or cross-entropy."""
    if loss == "mse":
        return ((yhat - torch.tensor(y, dtype=yhat.dtype)) ** 2).mean(-1)
    T, B, O = yhat.shape
    return F.cross_entropy(yhat.reshape(T * B, O), torch.tensor(y).reshape(-1), reduction="none").reshape(T, B)


def torch_bptt(spec, params, x, y, loss="mse", reduction="mean", mask=None, truncation=None, h0=None):
    """Loss, parameter gradients, dL/dh0 and dL/dx by autograd. A bidirectional network with a mask runs each
    sequence on its valid steps alone (the mask must be a suffix padding then)."""
    T, B, _ = x.shape
    n = spec.num_layers * spec.directions
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(np.zeros((n, B, spec.hidden_size)) if h0 is None else h0, requires_grad=True)
    m = np.ones((T, B)) if mask is None else np.asarray(mask, dtype=float)
    if spec.bidirectional and mask is not None:
        lengths = m.sum(axis=0).astype(int)
        outs = []
        for b in range(B):
            o = network(spec, tensors, xt[: lengths[b], b : b + 1], h0t[:, b : b + 1], None)
            outs.append(torch.cat([o, torch.zeros(T - lengths[b], 1, o.shape[-1], dtype=o.dtype)]))
        out = torch.cat(outs, dim=1)
    else:
        out = network(spec, tensors, xt, h0t, truncation)
    yhat = out @ tensors["weight_out"].T + tensors["bias_out"]
    mt = torch.tensor(m)
    tok = token_losses(yhat, y, loss) * mt
    total = tok.sum() / (mt.sum() if reduction == "mean" else B)
    total.backward()
    grads = {k: v.grad.numpy() for k, v in tensors.items()}
    dh0 = np.zeros(h0t.shape) if h0t.grad is None else h0t.grad.numpy()  # the LRU never reads h0
    return float(total.detach()), grads, dh0, xt.grad.numpy()
