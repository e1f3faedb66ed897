"""A zoo of trained recurrent networks whose defects are known by construction.

Each :class:`Specimen` says how it is built (cell, depth, task, initialisation, clipping, frozen or
rescaled weights, the inputs it is diagnosed on), who trains it (the engine's own training loop,
:func:`bptt_core.lab.train.fit`, or PyTorch), what advice it needs (its ``truth``: the rules of
:mod:`dashboard.diagnose.advice` that should fire, none for a healthy model) and what its held-out
performance must confirm: a healthy model solves its task (it explains at least 90 % of held-out
targets), a broken one fails it (under 50 %). The performance is measured by the trainer's own
forward pass on sequences neither the training nor the diagnosis saw.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import bptt_core as bc
from bptt_core.lab.tasks import Batch, make_batch
from bptt_core.lab.train import fit

#: Held-out share of the targets explained that confirms "solves" and, below, "fails".
SOLVES, FAILS = 0.9, 0.5
#: Sequences in each batch, in the user's sequences given to the diagnosis, and held out for the truth.
TRAIN_BATCH, USER_SEQUENCES, HELD_OUT = 32, 64, 256


def lagsum(T: int, B: int, rng: np.random.Generator) -> Batch:
    """Each step's target is the sum of the last three inputs (needs 3 steps of memory)."""
    x = rng.standard_normal((T, B, 1))
    y = x.copy()
    y[1:] += x[:-1]
    y[2:] += x[:-2]
    return Batch(x, y, np.ones((T, B)), "mse")


def neighbours(T: int, B: int, rng: np.random.Generator) -> Batch:
    """Each step's target is the sum of the inputs one step before and one after (a bidirectional task)."""
    x = rng.standard_normal((T, B, 1))
    y = np.zeros_like(x)
    y[1:] += x[:-1]
    y[:-1] += x[1:]
    return Batch(x, y, np.ones((T, B)), "mse")


def adding(T: int, B: int, rng: np.random.Generator) -> Batch:
    """The adding problem (:mod:`bptt_core.lab.tasks`): two marked values anywhere in T steps, summed at the end."""
    return make_batch("adding", T, B, rng)


def signs(T: int, B: int, rng: np.random.Generator) -> Batch:
    """Each step's class: whether the sum of the last three inputs is positive (2 classes, cross-entropy)."""
    b = lagsum(T, B, rng)
    return Batch(b.x, (b.y[..., 0] > 0).astype(np.int64), b.mask, "cross_entropy")


def first(T: int, B: int, rng: np.random.Generator) -> Batch:
    """One of 4 symbols at every step (one-hot); the class at the last step is the first symbol (cross-entropy)."""
    symbols = rng.integers(0, 4, (T, B))
    y, mask = np.broadcast_to(symbols[:1], (T, B)).copy(), np.zeros((T, B))
    mask[-1] = 1
    return Batch(np.eye(4)[symbols], y, mask, "cross_entropy")


TASKS: dict[str, Callable[[int, int, np.random.Generator], Batch]] = {
    "lagsum": lagsum,
    "neighbours": neighbours,
    "adding": adding,
    "signs": signs,
    "first": first,
}
#: (inputs, outputs) of each task.
SIZES = {"lagsum": (1, 1), "neighbours": (1, 1), "adding": (2, 1), "signs": (1, 2), "first": (4, 4)}


@dataclass(frozen=True)
class Specimen:
    """One zoo model: how it is built and trained, what it needs, and what its performance must confirm."""

    name: str
    trainer: str  # "engine" or "torch"
    cell: str
    task: str
    truth: frozenset
    expect: str  # "solves" or "fails"
    what: str
    T: int = 50
    hidden: int = 16
    layers: int = 1
    bidirectional: bool = False
    iterations: int = 400
    lr: float = 1e-2
    clip: float | None = None
    radius: float | None = None  # W_hh set to radius x a random orthogonal matrix before training
    forget_bias: float = 0.0  # added to the forget gate's input bias before training
    frozen: dict = field(default_factory=dict)  # key: factor, scaled before training and never trained
    deploy: tuple[float, float] = (1.0, 0.0)  # the diagnosed inputs are x * scale + offset
    seed: int = 0

    @property
    def spec(self) -> bc.RNNSpec:
        I, O = SIZES[self.task]
        return bc.RNNSpec(self.cell, I, self.hidden, O, num_layers=self.layers, bidirectional=self.bidirectional)


def starting_params(s: Specimen) -> dict[str, np.ndarray]:
    """The initial weights (engine keys = PyTorch's), with the specimen's construction applied."""
    spec, rng = s.spec, np.random.default_rng(s.seed + 1)
    params = bc.init_params(spec, seed=s.seed, forget_bias=s.forget_bias)
    if s.forget_bias:  # PyTorch adds b_ih and b_hh: the engine's forget_bias goes on b_ih, the same on b_hh
        cell = bc.CELLS[s.cell]
        g, H = cell.gate_names.index(cell.forget_gate), s.hidden
        for l, d in spec.layers():
            params[bc.param_key("bias_hh", l, d)][g * H : (g + 1) * H] += s.forget_bias
    if s.radius is not None:
        for l, d in spec.layers():
            key = bc.param_key("weight_hh", l, d)
            params[key] = np.concatenate([s.radius * bc.orthogonal(s.hidden, rng) for _ in range(spec.gates)])
    for key, factor in s.frozen.items():
        params[key] = params[key] * factor
    return params


def _engine(s: Specimen) -> dict[str, np.ndarray]:
    if s.frozen:
        raise ValueError(f"{s.name}: frozen weights need the torch trainer")
    rng = np.random.default_rng(s.seed)
    task = TASKS[s.task]
    history = fit(s.spec, starting_params(s), lambda i: task(s.T, TRAIN_BATCH, rng), s.iterations, lr=s.lr, clip=s.clip)
    return history.params


def torch_module(s: Specimen, params: dict[str, np.ndarray]):
    """``nn.RNN/LSTM/GRU`` + ``nn.Linear`` holding ``params`` (engine keys), in float32."""
    import torch

    module = getattr(torch.nn, bc.CELLS[s.cell].torch_module)
    spec = s.spec

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = module(spec.input_size, s.hidden, num_layers=s.layers, bidirectional=s.bidirectional)
            self.fc = torch.nn.Linear(spec.directions * s.hidden, spec.output_size)

        def forward(self, x):
            return self.fc(self.rnn(x)[0])

    net = Net()
    state = {f"rnn.{k}": torch.tensor(v, dtype=torch.float32) for k, v in params.items() if not k.endswith("_out")}
    state |= {"fc.weight": torch.tensor(params["weight_out"], dtype=torch.float32),
              "fc.bias": torch.tensor(params["bias_out"], dtype=torch.float32)}  # fmt: skip
    net.load_state_dict(state)
    return net


def _torch(s: Specimen):
    import torch

    torch.set_num_threads(1)  # tiny models: one thread, no OpenMP spinning against the BLAS's threads
    torch.manual_seed(s.seed)
    net, rng, task = torch_module(s, starting_params(s)), np.random.default_rng(s.seed), TASKS[s.task]
    for name, p in net.rnn.named_parameters():
        p.requires_grad_(name not in s.frozen)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=s.lr)
    for _ in range(s.iterations):
        b = task(s.T, TRAIN_BATCH, rng)
        out = net(torch.tensor(b.x, dtype=torch.float32))
        mask = torch.tensor(b.mask, dtype=torch.float32)
        if b.loss == "mse":
            tokens = ((out - torch.tensor(b.y, dtype=torch.float32)) ** 2).mean(-1)
        else:
            logits, classes = out.reshape(-1, out.shape[-1]), torch.tensor(b.y).reshape(-1)
            tokens = torch.nn.functional.cross_entropy(logits, classes, reduction="none").reshape(mask.shape)
        loss = (tokens * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        if s.clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), s.clip)
        opt.step()
    return net


def train(s: Specimen) -> tuple[bytes, Callable[[np.ndarray], np.ndarray]]:
    """The trained specimen as its trainer saves it (a ``.pt`` state dict from torch, an ``.npz`` with
    PyTorch's names from the engine) and its forward pass ``x (T, B, I) -> yhat (T, B, O)``."""
    if s.trainer == "torch":
        import torch

        net = _torch(s)
        buf = io.BytesIO()
        torch.save(net.state_dict(), buf)

        def forward(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return net(torch.tensor(x, dtype=torch.float32)).double().numpy()

        return buf.getvalue(), forward
    params = _engine(s)
    arrays = {f"rnn.{k}": v for k, v in params.items() if not k.endswith("_out")}
    arrays |= {"fc.weight": params["weight_out"], "fc.bias": params["bias_out"]}
    buf = io.BytesIO()
    np.savez(buf, **arrays)

    def forward(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return bc.bptt(s.spec, params, x, np.zeros((*x.shape[:2], s.spec.output_size))).yhat

    return buf.getvalue(), forward


def sequences(s: Specimen, B: int, seed: int) -> Batch:
    """Fresh sequences of the specimen's task, as it is diagnosed (deployed inputs)."""
    b = TASKS[s.task](s.T, B, np.random.default_rng(seed))
    scale, offset = s.deploy
    return Batch(b.x * scale + offset, b.y, b.mask, b.loss)


def explained(forward: Callable[[np.ndarray], np.ndarray], batch: Batch) -> float:
    """The held-out performance over the scored steps: ``1 - mse / variance`` of the targets, or for classes
    the Brier skill ``1 - E||onehot - p||² / E||onehot - class frequencies||²``."""
    valid = batch.mask > 0
    yhat = forward(batch.x)[valid]
    if batch.loss == "mse":
        target = batch.y[valid]
    else:
        target = np.eye(yhat.shape[-1])[batch.y[valid]]
        with np.errstate(all="ignore"):
            yhat = np.exp(yhat - yhat.max(axis=-1, keepdims=True))
            yhat /= yhat.sum(axis=-1, keepdims=True)
    err = np.mean(np.sum((yhat - target) ** 2, axis=-1))
    var = np.mean(np.sum((target - target.mean(axis=0)) ** 2, axis=-1))
    return float(1.0 - err / var) if np.isfinite(err) else float("-inf")


def user_files(s: Specimen, seed: int = 1000) -> tuple[bytes, bytes]:
    """The sequences a user brings to the diagnosis: inputs (T, B, I) in an ``.npz`` with their per-step targets
    and mask, or, for a task scored once per sequence, targets (B, O) in a separate ``.npy``."""
    b = sequences(s, USER_SEQUENCES, seed)
    buf, tbuf = io.BytesIO(), io.BytesIO()
    if b.mask.all():
        np.savez(buf, inputs=b.x, targets=b.y)
        return buf.getvalue(), b""
    np.savez(buf, inputs=b.x)
    last = b.mask.shape[0] - 1 - np.argmax(b.mask[::-1] > 0, axis=0)
    np.save(tbuf, b.y[last, np.arange(b.y.shape[1])])
    return buf.getvalue(), tbuf.getvalue()


ZOO: tuple[Specimen, ...] = (
    Specimen("healthy 2-layer GRU, short lag", "torch", "gru", "lagsum", frozenset(), "solves",
             "sum of the last 3 inputs, T = 50 (issue 28's GRU)", layers=2),
    Specimen("healthy RNN, short lag", "engine", "rnn", "lagsum", frozenset(), "solves",
             "sum of the last 3 inputs, T = 50"),
    Specimen("healthy LSTM, short lag", "engine", "lstm", "lagsum", frozenset(), "solves",
             "sum of the last 3 inputs, T = 30", T=30, hidden=8, iterations=300),
    Specimen("healthy LSTM, long lag", "torch", "lstm", "adding", frozenset(), "solves",
             "adding problem, T = 50", iterations=1500),
    Specimen("healthy GRU, long lag", "engine", "gru", "adding", frozenset(), "solves",
             "adding problem, T = 30", T=30, iterations=1200),
    Specimen("healthy bidirectional GRU", "torch", "gru", "neighbours", frozenset(), "solves",
             "sum of the previous and the next input, T = 40", T=40, bidirectional=True),
    Specimen("already clips", "torch", "rnn", "lagsum", frozenset(), "solves",
             "RNN started at ρ = 2.5, trained with clipping at 1", radius=2.5, clip=1.0, iterations=600),
    Specimen("vanishing RNN, long lag", "engine", "rnn", "adding", frozenset({"gated_cell"}), "fails",
             "adding problem, T = 50", iterations=600),
    Specimen("vanishing 2-layer RNN, long lag", "torch", "rnn", "adding", frozenset({"gated_cell"}), "fails",
             "adding problem, T = 50", layers=2, iterations=600),
    Specimen("exploding RNN", "engine", "rnn", "lagsum", frozenset({"clip", "rescale"}), "fails",
             "started at ρ = 2.5, no clipping", radius=2.5, iterations=300),
    Specimen("exploding RNN, long lag", "torch", "rnn", "adding", frozenset({"clip", "rescale"}), "fails",
             "started at ρ = 3, no clipping", radius=3.0, iterations=300),
    Specimen("exploding 2-layer RNN", "torch", "rnn", "lagsum", frozenset({"clip", "rescale"}), "fails",
             "both layers started at ρ = 2.5, no clipping", layers=2, radius=2.5, iterations=300, seed=1),
    Specimen("forget bias too low, first symbol", "engine", "lstm", "first", frozenset({"forget_bias"}), "fails",
             "forget-gate biases at -3 each, recall the first of 20 symbols (cross-entropy)", T=20, hidden=8,
             forget_bias=-3.0, iterations=300, seed=2),
    Specimen("forget bias too low", "torch", "lstm", "adding", frozenset({"forget_bias"}), "fails",
             "forget-gate biases at -3 each (f ≈ 0.002), adding problem, T = 50", forget_bias=-3.0, iterations=600),
    Specimen("healthy GRU, classes", "torch", "gru", "signs", frozenset(), "solves",
             "sign of the sum of the last 3 inputs (cross-entropy), T = 50"),
    Specimen("healthy LSTM, first symbol", "torch", "lstm", "first", frozenset(), "solves",
             "recall the first of 20 symbols at the end (cross-entropy), forget-gate biases at 1 each", T=20,
             forget_bias=1.0, iterations=1000),
    Specimen("healthy 3-layer LSTM, short lag", "torch", "lstm", "lagsum", frozenset(), "solves",
             "sum of the last 3 inputs, T = 50", layers=3, iterations=500),
    Specimen("vanishing RNN, first symbol", "engine", "rnn", "first", frozenset({"gated_cell"}), "fails",
             "recall the first of 40 symbols at the end (cross-entropy)", T=40, iterations=600),
    Specimen("saturated gates", "torch", "gru", "lagsum", frozenset({"saturation"}), "fails",
             "trained on standardised inputs, diagnosed on raw ones (×25 + 10)", deploy=(25.0, 10.0)),
    Specimen("saturated LSTM", "engine", "lstm", "lagsum", frozenset({"saturation"}), "fails",
             "trained on standardised inputs, diagnosed on raw ones (×20 - 30), T = 30", T=30, hidden=8,
             iterations=300, deploy=(20.0, -30.0)),
    Specimen("starved layer", "torch", "gru", "lagsum", frozenset({"bottleneck"}), "fails",
             "layer 1's W_ih frozen at 1e-3 × its initial values", layers=2,
             frozen={"weight_ih_l1": 1e-3}),
    Specimen("starved 3-layer LSTM", "torch", "lstm", "lagsum", frozenset({"bottleneck"}), "fails",
             "layer 2's W_ih frozen at 1e-3 × its initial values", layers=3, iterations=500,
             frozen={"weight_ih_l2": 1e-3}),
)  # fmt: skip
