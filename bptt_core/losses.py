"""Token losses over time and their reduction to one number.

Token loss ``l[t, b]``: mse is the mean over output dims of the squared error;
cross-entropy is ``-log softmax(yhat)[y]``. With a mask ``m[t, b]`` in {0, 1}:

* ``reduction="mean"``: ``L = sum(m * l) / sum(m)`` (the average valid token);
* ``reduction="sum"``:  ``L = sum(m * l) / B`` (sum over time, mean over batch);
* ``step_losses[t] = sum_b m l / sum_b m`` (0 at a step with no valid token).

With B = 1 and step losses [0.2, 0.5, 0.1, 0.4], mean gives 0.3 and sum 1.2.
"""

from __future__ import annotations

import numpy as np

LOSSES = ("mse", "cross_entropy")
REDUCTIONS = ("mean", "sum")


def token_weights(mask: np.ndarray, reduction: str) -> np.ndarray:
    """Weight ``w[t, b]`` of every token loss in the total, so that ``L = sum(w * l)``.

    Parameters
    ----------
    mask : ndarray of shape (T, B)
        1 for a valid token, 0 for padding.
    reduction : {"mean", "sum"}

    Returns
    -------
    ndarray of shape (T, B)
    """
    mask = mask.astype(np.float64)
    return mask / weight_divisor(mask, reduction)


def weight_divisor(mask: np.ndarray, reduction: str) -> float:
    """What the masked token losses are divided by: the valid tokens (mean, at least 1) or the batch size (sum).

    An online learner weighs step t's token losses by ``mask[t] / weight_divisor(mask, reduction)``
    without holding the (T, B) weights.
    """
    return max(float(mask.sum()), 1.0) if reduction == "mean" else float(mask.shape[1])


def reduce(token_losses: np.ndarray, mask: np.ndarray, reduction: str) -> float:
    """The total loss ``sum(w * l)`` with weights from :func:`token_weights`."""
    return float(np.sum(token_weights(mask, reduction) * np.where(mask > 0, token_losses, 0.0)))


def step_means(token_losses: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``step_losses[t]``: mean token loss over the valid batch entries, 0 if none.

    Parameters
    ----------
    token_losses, mask : ndarray of shape (T, B)
        Token losses (0 at padding, or anything there: the mask decides) and the 0/1 mask.

    Returns
    -------
    ndarray of shape (T,)
    """
    valid = mask.sum(axis=1)
    total = np.einsum("tb,tb->t", token_losses, mask, dtype=np.float64)
    np.divide(total, valid, out=total, where=valid > 0)
    total[valid == 0] = 0.0
    return total


def token_loss_and_grad(
    loss: str, yhat: np.ndarray, y: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Token losses and their gradient with respect to the read-out.

    Parameters
    ----------
    loss : {"mse", "cross_entropy"}
    yhat : ndarray of shape (..., B, O)
    y : ndarray of shape (..., B, O) for mse, integer (..., B) for cross-entropy
    out : ndarray of the shape of ``yhat``, optional
        Where the gradient goes (the only temporary of that size: the losses are computed in it).

    Returns
    -------
    l : ndarray of shape (..., B)
    dl_dyhat : ndarray of shape (..., B, O)
        ``out`` when given.
    """
    grad = np.empty_like(yhat) if out is None else out
    with np.errstate(over="ignore", invalid="ignore"):
        if loss == "mse":
            np.subtract(yhat, y, out=grad)  # the error
            O = yhat.shape[-1]
            l = np.einsum("...o,...o->...", grad, grad) / O
            grad *= 2.0 / O
            return l, grad
        np.subtract(yhat, yhat.max(axis=-1, keepdims=True), out=grad)  # shifted logits: exp cannot overflow
        idx = y[..., None]
        picked = np.take_along_axis(grad, idx, axis=-1)[..., 0]
        np.exp(grad, out=grad)
        z = grad.sum(axis=-1, keepdims=True)
        grad /= z  # softmax
        np.put_along_axis(grad, idx, np.take_along_axis(grad, idx, axis=-1) - 1.0, axis=-1)
        return np.log(z[..., 0]) - picked, grad  # -log softmax(yhat)[y]
