"""Something to diagnose without files of one's own: demo models and built-in sequences that fit a model."""

from __future__ import annotations

import io

import numpy as np

import bptt_core as bc
from bptt_core.lab.tasks import TASKS, make_batch, task_sizes
from dashboard.diagnose.model_files import Model, UploadError
from dashboard.diagnose.sequence_files import Sequences, check_size


def demo_model(kind: str, seed: int = 0) -> bytes:
    """A small state dict (``.npz``, PyTorch names, a read-out ``fc``) to try the diagnosis without a model of
    one's own: "vanishing" (an RNN with small weights), "exploding" (an RNN with spectral radius 2.5) or
    "healthy" (an LSTM with forget-gate bias 3). Each reads 2 inputs and has 1 output, the sizes of the
    built-in adding problem, so the page can score them on a task that needs memory."""
    cell = "lstm" if kind == "healthy" else "rnn"
    spec = bc.RNNSpec(cell, 2, 16, 1)
    params = bc.init_params(spec, seed=seed, forget_bias=3.0 if kind == "healthy" else 0.0)
    if kind in ("vanishing", "exploding"):
        rho = 0.3 if kind == "vanishing" else 2.5
        params["weight_hh_l0"] = rho * bc.orthogonal(16, np.random.default_rng(seed))
    elif kind != "healthy":
        raise ValueError(f"kind must be 'vanishing', 'exploding' or 'healthy', got {kind!r}")
    arrays = {f"rnn.{k}": v for k, v in params.items() if not k.endswith("_out")}
    arrays |= {"fc.weight": params["weight_out"], "fc.bias": params["bias_out"]}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def builtin_tasks(model: Model) -> list[str]:
    """The built-in tasks whose input and output sizes fit ``model`` (when the user brings no sequences)."""
    if model.embedding is not None:
        return []
    return [t for t in TASKS if task_sizes(t) == (model.spec.input_size, model.spec.output_size)]


def builtin_sequences(model: Model, task: str, T: int, B: int, seed: int = 0) -> Sequences:
    """Sequences for ``model`` without an upload: a built-in task that fits it, or "random" inputs (no targets;
    random token ids through an embedding)."""
    rng = np.random.default_rng(seed)
    check_size(T, B)
    lengths = np.full(B, T)
    if task == "random":
        if model.embedding is not None:
            tokens = rng.integers(0, model.embedding.shape[0], (T, B))
            return Sequences(
                model.embedding[tokens], tokens, None, None, np.ones((T, B)), lengths, None, ["random token ids"]
            )
        x = rng.standard_normal((T, B, model.spec.input_size))
        return Sequences(x, None, None, None, np.ones((T, B)), lengths, None, ["random inputs N(0, 1), no targets"])
    if task not in builtin_tasks(model):
        raise UploadError(
            f"the task {task!r} does not fit the model's inputs and outputs: choose one of {builtin_tasks(model)}"
        )
    batch = make_batch(task, T, B, rng)
    if model.spec.bidirectional and not batch.mask.all():
        raise UploadError(f"the {task} task scores only some steps, which a bidirectional model cannot be run on here")
    return Sequences(batch.x, None, batch.y, batch.loss, batch.mask, lengths, None, [f"the built-in {task} task"])
