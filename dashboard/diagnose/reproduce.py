"""A runnable PyTorch script that rebuilds a diagnosed model with ``torch.nn`` and prints the same numbers.

The script loads the user's own weights file and the exact sequences the diagnosis read (saved
next to it as ``diagnose_data.npz``), runs ``nn.Embedding`` → ``nn.RNN/LSTM/GRU`` → ``nn.Linear``
with the same loss, and prints JSON: the loss, each parameter's gradient norm and ``dh_norms``
(L, D, T), the latter from torch's own cells unrolled step by step so that every ``h_t`` is a
tensor autograd can report on.
"""

from __future__ import annotations

import io

import numpy as np

from dashboard.diagnose.model_files import Model
from dashboard.diagnose.sequence_files import Sequences

TEMPLATE = '''"""Rebuild the diagnosed model with torch.nn and print its loss and gradient norms as JSON.

usage: python {script} WEIGHTS DATA
  WEIGHTS  the state dict that was diagnosed ({weights})
  DATA     the sequences the diagnosis read (diagnose_data.npz, written next to this script)

Prints {{"loss": ..., "grad_norms": {{...}}, "dh_norms": [...]}}: the numbers of report.json.
"""

import json
import sys

import numpy as np

if len(sys.argv) != 3:
    print(__doc__.strip())
    sys.exit(2)

import torch  # noqa: E402

CELL, NONLINEARITY = {cell!r}, {activation!r}
I, H, O, LAYERS, BIDIRECTIONAL = {input_size}, {hidden_size}, {output_size}, {num_layers}, {bidirectional}
PREFIX, READOUT, EMBEDDING = {prefix!r}, {readout!r}, {embedding!r}
LOSS = {loss!r}

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

kinds = {{"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}}
cells = {{"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}}
extra = {{"nonlinearity": NONLINEARITY}} if CELL == "rnn" else {{}}
rnn = kinds[CELL](I, H, num_layers=LAYERS, bidirectional=BIDIRECTIONAL, **extra).double()
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
y, mask, lengths = torch.tensor(data["y"]), torch.tensor(data["mask"]), data["lengths"]
T, B = mask.shape


def token_losses(yhat, y):
    if LOSS == "mse":
        return ((yhat - y) ** 2).mean(-1)
    return torch.nn.functional.cross_entropy(yhat.reshape(-1, O), y.reshape(-1), reduction="none").reshape(y.shape)


# 1. The whole model as torch.nn runs it (packed sequences where lengths differ): loss and parameter gradients.
packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
out, _ = rnn(packed)
out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
loss = (token_losses(readout(out), y) * mask).sum() / mask.sum()
loss.backward()
grads = {{name: float(p.grad.norm()) for name, p in rnn.named_parameters()}}
grads |= {{"weight_out": float(readout.weight.grad.norm()), "bias_out": float(readout.bias.grad.norm())}}

# 2. dL/dh_t of every layer and direction: torch's cells unrolled by hand, one sequence at a time.
dh_sq = np.zeros((LAYERS, D, T))
total = mask.sum()
for b in range(B):
    n = int(lengths[b])
    inputs, states = x[:n, b].detach(), {{}}
    for layer in range(LAYERS):
        outs = []
        for d in range(D):
            suffix = f"_l{{layer}}" + ("_reverse" if d else "")
            cell = cells[CELL](inputs.shape[-1], H, **extra).double()
            w = {{k: getattr(rnn, k + suffix) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}}
            state = None
            seq = [None] * n
            for t in range(n) if d == 0 else reversed(range(n)):
                state = torch.func.functional_call(cell, w, (inputs[t : t + 1], state))
                h = state[0] if CELL == "lstm" else state
                h.retain_grad()
                seq[t] = states[layer, d, t] = h
            outs.append(torch.cat(seq))
        inputs = torch.cat(outs, dim=-1)
    part = (token_losses(readout(inputs), y[:n, b]) * mask[:n, b]).sum() / total
    part.backward()
    for (layer, d, t), h in states.items():
        dh_sq[layer, d, t] += float((h.grad**2).sum())

print(json.dumps({{"loss": loss.item(), "grad_norms": grads, "dh_norms": np.sqrt(dh_sq).tolist()}}))
'''


def script(model: Model, weights_name: str, loss: str, script_name: str = "reproduce.py") -> str:
    """The PyTorch script for ``model`` (its weights file named ``weights_name``) and ``loss``."""
    spec, roles = model.spec, model.roles
    prefix = model.prefix + "." if model.prefix else ""
    return TEMPLATE.format(
        script=script_name,
        weights=weights_name,
        cell=spec.cell,
        activation=spec.activation,
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
