"""A runnable PyTorch script that rebuilds a diagnosed model with ``torch.nn`` and prints the same numbers.

The script loads the user's own weights file and the exact sequences the diagnosis read (saved
next to it as ``diagnose_data.npz``), runs ``nn.Embedding`` → the recurrent module → ``nn.Linear``
with the same loss, and prints JSON: the loss, each parameter's gradient norm and ``dh_norms``
(L, D, T), the latter from the cells unrolled step by step so that every ``h_t`` is a tensor
autograd can report on. The recurrent module is ``torch.nn``'s where the cell has one
(``Cell.torch_module``), else the cell written in torch from its paper's equations
(:mod:`dashboard.diagnose.torch_cells`, embedded in the script: the LRU, minGRU), under the same names.
"""

from __future__ import annotations

import ast
import io
from pathlib import Path

import numpy as np

import bptt_core as bc
from dashboard.diagnose.model_files import Model
from dashboard.diagnose.sequence_files import Sequences

TEMPLATE = '''"""Rebuild the diagnosed model with torch.nn and print its loss and gradient norms as JSON.

usage: python {script} WEIGHTS DATA
  WEIGHTS  the state dict that was diagnosed ({weights})
  DATA     the sequences the diagnosis read (diagnose_data.npz, written next to this script)

Prints {{"loss": ..., "grad_norms": {{...}}, "dh_norms": [...]}}: the numbers of report.json.
"""

import functools
import json
import sys

import numpy as np

if len(sys.argv) != 3:
    print(__doc__.strip())
    sys.exit(2)

import torch  # noqa: E402

CELL, NONLINEARITY, CHOOSES_ACTIVATION, TORCH_MODULE = {cell!r}, {activation!r}, {chooses!r}, {torch_module!r}
I, H, O, LAYERS, BIDIRECTIONAL = {input_size}, {hidden_size}, {output_size}, {num_layers}, {bidirectional}
PREFIX, READOUT, EMBEDDING = {prefix!r}, {readout!r}, {embedding!r}
LOSS = {loss!r}

{torch_cells}

weights_path, data_path = sys.argv[1:3]
if weights_path.endswith(".npz"):
    state = {{k: torch.tensor(v) for k, v in np.load(weights_path).items()}}
elif weights_path.endswith(".safetensors"):
    from safetensors.torch import load_file

    state = load_file(weights_path)
else:
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
state = {{k: v.double() for k, v in state.items()}}
data = np.load(data_path)
D = 2 if BIDIRECTIONAL else 1

# The recurrent module: torch.nn's own where PyTorch has one, else the engine's equations written in torch
# (``Recurrent`` with the cell's module, below; the state dict's keys are the same either way).
extra = {{"nonlinearity": NONLINEARITY}} if CHOOSES_ACTIVATION else {{}}
if TORCH_MODULE:
    step = functools.partial(getattr(torch.nn, TORCH_MODULE + "Cell"), **extra)
    rnn = getattr(torch.nn, TORCH_MODULE)(I, H, num_layers=LAYERS, bidirectional=BIDIRECTIONAL, **extra).double()
else:
    step = CELLS[CELL]
    rnn = Recurrent(step, I, H, num_layers=LAYERS, bidirectional=BIDIRECTIONAL).double()
own = {{k[len(PREFIX) :]: v for k, v in state.items() if k.startswith(PREFIX) and "_l" in k}}
rnn.load_state_dict(own, strict=False)
with torch.no_grad():  # a bias=False module's biases are zeros
    for name, p in rnn.named_parameters():
        if name not in own:
            p.zero_()
readout = torch.nn.Linear(D * H, O).double()
with torch.no_grad():
    if READOUT == "none":
        readout.weight.copy_(torch.eye(D * H)), readout.bias.zero_()
    else:
        readout.weight.copy_(state[READOUT])
        readout.bias.copy_(state.get(READOUT[: -len("weight")] + "bias", torch.zeros(O)))
x = torch.tensor(data["x"])  # (T, B, I), tokens already looked up
if EMBEDDING != "none":
    embed = torch.nn.Embedding.from_pretrained(state[EMBEDDING], freeze=False)
    x = embed(torch.tensor(data["tokens"]))
y, mask, lengths = torch.tensor(data["y"]), torch.tensor(data["mask"]), torch.tensor(data["lengths"])
T, B = mask.shape


def token_losses(yhat, y):
    if LOSS == "mse":
        return ((yhat - y) ** 2).mean(-1)
    return torch.nn.functional.cross_entropy(yhat.reshape(-1, O), y.reshape(-1), reduction="none").reshape(y.shape)


# 1. The whole model as PyTorch runs it (torch.nn's modules on packed sequences where lengths differ):
#    loss and parameter gradients.
if TORCH_MODULE:
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, _ = rnn(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
else:
    out, _ = rnn(x, lengths)
loss = (token_losses(readout(out), y) * mask).sum() / mask.sum()
loss.backward()
grads = {{name: float(p.grad.norm()) for name, p in rnn.named_parameters()}}
grads |= {{"weight_out": float(readout.weight.grad.norm()), "bias_out": float(readout.bias.grad.norm())}}

# 2. dL/dh_t of every layer and direction: the same weights, one step at a time (torch's cells for torch's
#    modules), so that every h_t is a tensor autograd reports on.
stepwise = Recurrent(step, I, H, num_layers=LAYERS, bidirectional=BIDIRECTIONAL).double()
stepwise.load_state_dict(dict(rnn.named_parameters()))
out, steps = stepwise(x.detach(), lengths)
for hs in steps.values():
    for h in hs:
        h.retain_grad()
((token_losses(readout(out), y) * mask).sum() / mask.sum()).backward()
dh_sq = np.zeros((LAYERS, D, T))
for (layer, d), hs in steps.items():
    g = torch.stack([h.grad for h in hs])  # (T, B, H) in the direction's own step order
    g = reverse_within(g, lengths) if d else g
    dh_sq[layer, d] = (g**2).sum(dim=(1, 2)).numpy()

print(json.dumps({{"loss": loss.item(), "grad_norms": grads, "dh_norms": np.sqrt(dh_sq).tolist()}}))
'''


def torch_cells_source() -> str:
    """:mod:`dashboard.diagnose.torch_cells` as the script embeds it: its code after the module docstring."""
    source = (Path(__file__).parent / "torch_cells.py").read_text(encoding="utf-8")
    body = ast.parse(source).body[1].lineno  # the first statement after the docstring
    code = "\n".join(source.splitlines()[body - 1 :])
    return "# The cells PyTorch has no module for, from their equations (dashboard/diagnose/torch_cells.py)\n" + code


def script(model: Model, weights_name: str, loss: str, script_name: str = "reproduce.py") -> str:
    """The PyTorch script for ``model`` (its weights file named ``weights_name``) and ``loss``."""
    spec, roles = model.spec, model.roles
    prefix = model.prefix + "." if model.prefix else ""
    return TEMPLATE.format(
        script=script_name,
        weights=weights_name,
        cell=spec.cell,
        activation=spec.activation,
        chooses=bc.CELLS[spec.cell].chooses_activation,
        torch_module=bc.CELLS[spec.cell].torch_module,
        torch_cells=torch_cells_source(),
        input_size=spec.input_size,
        hidden_size=spec.hidden_size,
        output_size=spec.output_size,
        num_layers=spec.num_layers,
        bidirectional=spec.bidirectional,
        prefix=prefix,
        readout=roles["readout"],
        embedding=roles["embedding"],
        loss=loss,
    )


def data_npz(seqs: Sequences) -> bytes:
    """The exact sequences the diagnosis read: ``x``, ``tokens`` (if any), ``y``, ``mask``, ``lengths``."""
    arrays = {"x": seqs.x, "y": seqs.y, "mask": seqs.mask, "lengths": seqs.lengths}
    if seqs.tokens is not None:
        arrays["tokens"] = seqs.tokens
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
