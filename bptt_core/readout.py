"""The read-out on the top layer's outputs: predictions, token losses and the gradient they send down."""

from __future__ import annotations

from .losses import token_loss_and_grad
from .workspace import contiguous, matmul


def readout(call, parts: list, t0: int, outs: list) -> None:
    """Read-out, token losses and ``dL/dh`` at steps t0.. from the top layer's outputs (one part per direction).

    Parameters
    ----------
    call : bptt_core.bptt._Call
        The call's parameters, gradient buffers, targets, token weights and losses.
    parts, outs : list of ndarray of shape (m, B, H)
        The top layer's outputs in time order, and where ``dL/d(output)`` goes.
    """
    W, H, work = call.P["weight_out"], call.spec.hidden_size, call.work
    m, B, _ = parts[0].shape
    t1, shape = t0 + m, (m, B, W.shape[0])
    yhat = call.yhat[t0:t1] if call.yhat is not None else work.get("yhat_chunk", shape, W.dtype)
    parts = [contiguous(work, f"readout_in_{k}", part) for k, part in enumerate(parts)]  # (a stack's are strided)
    for k, part in enumerate(parts):
        block = W[:, k * H : (k + 1) * H]
        if k == 0:
            matmul(part, block.T, out=yhat)
        else:
            yhat += matmul(part, block.T, out=work.get("yhat_part", shape, W.dtype))
    yhat += call.P["bias_out"]
    call.tok[t0:t1], dyhat = token_loss_and_grad(call.loss, yhat, call.y[t0:t1], work.get("dyhat", shape, W.dtype))
    dyhat *= call.weights[t0:t1, :, None]  # dL/dyhat
    flat = dyhat.reshape(-1, W.shape[0])
    for k, (part, out) in enumerate(zip(parts, outs)):
        call.grads["weight_out"][:, k * H : (k + 1) * H] += flat.T @ part.reshape(-1, H)
        matmul(dyhat, W[:, k * H : (k + 1) * H], out=out)
    call.grads["bias_out"] += flat.sum(axis=0)
