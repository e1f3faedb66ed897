"""Diagnose: a torch-trained model and its sequences, read as untrusted files, measured and advised on."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.analysis.summaries import spread, summarise_curve
from dashboard.diagnose import command as diagnose
from dashboard.diagnose import panels as shown_panels
from dashboard.diagnose import reproduce
from dashboard.diagnose.advice import diagnose as run_diagnosis
from dashboard.diagnose.demos import demo_model
from dashboard.diagnose.model_files import read_model
from dashboard.diagnose.sequence_files import read_sequences
from tests.apptest import array_of, assert_clean, chart_specs, open_app

from .uploads import assert_the_script_reproduces, npz

V, E, H, T, B = 6, 5, 12, 16, 24


def train_tagger(folder):
    """A 2-layer bidirectional LSTM with an embedding and a read-out, trained 300 steps with torch to tag each
    token with the token two steps earlier; its state dict saved with torch.save, its sequences (batch-first)
    and targets as .npy in ``folder``."""
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)  # a tiny model: one thread, and no OpenMP spinning against the BLAS's threads

    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(V, E)
            self.rnn = torch.nn.LSTM(E, H, num_layers=2, bidirectional=True)
            self.fc = torch.nn.Linear(2 * H, V)

        def forward(self, tokens):
            return self.fc(self.rnn(self.embed(tokens))[0])

    def batch(rng):
        tokens = rng.integers(0, V, (T, B))
        return tokens, np.concatenate([np.zeros((2, B), int), tokens[:-2]])

    model, rng = Tagger(), np.random.default_rng(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        tokens, y = batch(rng)
        loss = torch.nn.functional.cross_entropy(
            model(torch.tensor(tokens)).reshape(-1, V), torch.tensor(y).reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.save(model.state_dict(), folder / "model.pt")
    tokens, y = batch(np.random.default_rng(1))
    np.save(folder / "tokens.npy", tokens.T.copy())  # batch-first, as people save them
    np.save(folder / "targets.npy", y.T.copy())
    return {"folder": folder, "model": model, "tokens": tokens, "y": y, "final_loss": loss.item()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("torch")
    return train_tagger(tmp_path_factory.mktemp("trained"))


def _trained_bytes(trained, name):
    return (trained["folder"] / name).read_bytes()


def _load(trained):
    folder = trained["folder"]
    model = read_model((folder / "model.pt").read_bytes())
    seqs = read_sequences(
        (folder / "tokens.npy").read_bytes(),
        "tokens.npy",
        model,
        batch_first=True,
        targets=(folder / "targets.npy").read_bytes(),
        targets_name="targets.npy",
    )
    return model, seqs


def _torch_dh_norms(trained) -> np.ndarray:
    """||dL/dh_t|| per layer and direction by torch autograd: the trained module's own cells unrolled by hand."""
    import torch

    net = trained["model"].double()
    x = net.embed(torch.tensor(trained["tokens"])).detach()
    inputs, states = x, {}
    for layer in range(2):
        outs = []
        for d in range(2):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            cell = torch.nn.LSTMCell(inputs.shape[-1], H).double()
            w = {k: getattr(net.rnn, k + sfx) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            state, seq = None, [None] * T
            for t in range(T) if d == 0 else reversed(range(T)):
                state = torch.func.functional_call(cell, w, (inputs[t], state))
                state[0].retain_grad()
                seq[t] = states[layer, d, t] = state[0]
            outs.append(torch.stack(seq))
        inputs = torch.cat(outs, dim=-1)
    logits = net.fc(inputs)
    torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.tensor(trained["y"]).reshape(-1)).backward()
    out = np.zeros((2, 2, T))
    for (layer, d, t), h in states.items():
        out[layer, d, t] = float(h.grad.norm())
    net.float()
    return out


def test_a_torch_trained_stack_is_recognised_and_its_dh_norms_match_autograd(trained):
    model, seqs = _load(trained)
    assert (model.spec.cell, model.spec.num_layers, model.spec.bidirectional) == ("lstm", 2, True)
    assert (model.spec.input_size, model.spec.hidden_size, model.spec.output_size) == (E, H, V)
    assert model.roles == {"readout": "fc.weight", "embedding": "embed.weight"} and model.prefix == "rnn"
    report = run_diagnosis(model, seqs)
    assert trained["final_loss"] < 0.5 and report.loss < 0.5  # it learned the task, and we read it right
    ref = _torch_dh_norms(trained)
    assert bc.relative_error(report.dh_norms, ref) < 1e-8
    assert np.all(ref > 0)


def test_the_pytorch_script_reproduces_the_numbers(trained, tmp_path):
    model, seqs = _load(trained)
    report = run_diagnosis(model, seqs)
    weights = (trained["folder"] / "model.pt").read_bytes()
    assert_the_script_reproduces(tmp_path, model, seqs, report, "model.pt", weights)


def test_the_command_writes_report_json_and_html(trained, tmp_path):
    folder, out = trained["folder"], tmp_path / "out"
    argv = [str(folder / "model.pt"), "--inputs", str(folder / "tokens.npy"), "--targets", str(folder / "targets.npy")]
    assert diagnose.main([*argv, "--batch-first", "--loss", "cross_entropy", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["cell"], report["num_layers"], report["bidirectional"], report["hidden_size"], report["T"]) == (
        "lstm", 2, True, H, T,
    )  # fmt: skip
    assert np.array(report["dh_norms"]).shape == (2, 2, T)
    assert bc.relative_error(np.array(report["dh_norms"]), _torch_dh_norms(trained)) < 1e-8
    assert np.array(report["lyapunov"]).shape[:2] == (2, 2)
    assert all(set(r) == {"what", "why", "evidence", "rule"} for r in report["recommendations"])
    page = (out / "report.html").read_text()
    assert page.count("Plotly.newPlot") == 6 and "plotly.js" in page.lower()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.pt", "--inputs", "x.npy"], "No such file"),
        (["{bad}", "--inputs", "{x}"], "not an .npz, .safetensors or PyTorch"),
        (["{model}", "--inputs", "{x}"], "features per step"),
        (["{model}", "--inputs", "{x}", "--loss", "unknown"], "invalid choice"),
    ],
)
def test_the_command_refuses_bad_files_in_one_line_and_writes_nothing(argv, message, tmp_path, capsys):
    (tmp_path / "bad.pt").write_bytes(b"this is not a model at all")
    (tmp_path / "model.npz").write_bytes(demo_model("healthy"))
    np.save(tmp_path / "x.npy", np.zeros((5, 2, 7)))
    names = {"bad": tmp_path / "bad.pt", "model": tmp_path / "model.npz", "x": tmp_path / "x.npy"}
    argv = [a.format(**names) for a in argv]
    try:
        code = diagnose.main([*argv, "--out", str(tmp_path / "out")])
    except SystemExit as stop:  # argparse's own refusals (through our one-line error)
        code = stop.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def random_models(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        cell = str(rng.choice(list(bc.CELLS)))
        H_, O_, L_ = (int(v) for v in rng.integers(1, [12, 4, 4]) + [1, 0, 0])
        spec = bc.RNNSpec(cell, 3, H_, O_, num_layers=L_, bidirectional=bool(rng.random() < 0.4))
        params = bc.init_params(spec, seed=int(rng.integers(1000)), scale=float(rng.choice([0.3, 1.0, 2.0, 4.0])))
        arrays = {f"lstm_like.{k}": v for k, v in params.items() if not k.endswith("_out")}
        arrays |= {"head.weight": params["weight_out"], "head.bias": params["bias_out"]}
        T_, B_ = int(rng.integers(3, 50)), int(rng.integers(1, 5))
        model = read_model(npz(**arrays))
        targets = rng.standard_normal((T_, B_, spec.output_size)) if rng.random() < 0.6 else None
        x = rng.standard_normal((T_, B_, 3))
        data = npz(inputs=x, targets=targets) if targets is not None else npz(inputs=x)
        yield model, read_sequences(data, "d.npz", model, batch_first=False)


@pytest.mark.parametrize("i", range(20))
def test_diagnose_captions_read_their_figures(i):
    """Every sentence of the diagnosis's captions is read off the figure's own data, over 20 random models: the
    regimes, horizons and blow-ups of the per-sequence Jacobian curves, λ₁'s median and largest value."""
    model, seqs = list(random_models(20, seed=3))[i]
    report = run_diagnosis(model, seqs)
    shown = {p.name: p for p in shown_panels.panels(report, seqs)}
    lyap = shown["diagnose_lyapunov"]
    for label in lyap.data["label"].unique():
        traces = [t for t in lyap.figure.data if t.name.startswith(f"{label}, sequence")]
        lead = np.array([float(t.y[0]) if t.y[0] is not None else np.nan for t in traces])
        median, largest = spread(lead, "max")
        assert f"{label}: λ₁ median {median:+.3f}, largest {largest:+.3f}" in lyap.caption
        assert f"({np.sum(lead > 0)} of {len(traces)} sequences above 0)" in lyap.caption
    jac = shown["diagnose_jacobians"]
    for l, d in report.spec.layers():
        label = shown_panels.where(report.spec, l, d)
        traces = [t for t in jac.figure.data if t.name.startswith(f"{label}, sequence")]
        curves = [summarise_curve(np.log10(np.asarray(t.y, float)), 1e-3, np.asarray(t.x, float)) for t in traces]
        regimes = [c.regime for c in curves]
        said = shown_panels.dynamics_sentence(report, l, d)
        assert said in jac.caption
        for regime, words in (("decaying", "decay"), ("flat", "stay within"), ("growing", "grow past")):
            assert (f"{regimes.count(regime)} of {len(curves)} {words}" in said) == (regime in regimes)
        horizons = [c.horizon for c in curves if c.horizon is not None]
        if horizons:
            assert f"shortest {min(horizons)} steps" in said
    assert ("diagnose_saturation" in shown) == (bc.CELLS[model.spec.cell].gates > 0)  # the LRU has no gates
    if "diagnose_saturation" in shown:
        sat, stacked = shown["diagnose_saturation"], {}
        for trace in sat.figure.data:
            for label, gate, y in zip(trace.x[0], trace.x[1], trace.y):
                stacked[label, gate] = stacked.get((label, gate), 0.0) + float(y)
        assert f"{max(stacked.values()):.0%}" in sat.caption
    conn = shown["diagnose_connectivity"]
    z = np.asarray(conn.figure.data[0].z[0], float)
    assert f"largest at step {int(np.nanargmax(z))}" in conn.caption
    if "diagnose_batches" in shown:
        bars = np.asarray(shown["diagnose_batches"].figure.data[0].y, float)
        assert f"median {np.median(bars):.3g}" in shown["diagnose_batches"].caption
    grads = shown["diagnose_gradients"]
    assert str(report.B) in grads.caption


def test_every_panel_name_is_listed():
    model = read_model(demo_model("exploding"))
    seqs = read_sequences(npz(inputs=np.zeros((8, 2, 2)), targets=np.zeros((8, 2, 1))), "d.npz", model,
                          batch_first=False)  # fmt: skip
    names = tuple(p.name for p in shown_panels.panels(run_diagnosis(model, seqs), seqs))
    assert names == shown_panels.PANEL_NAMES


def test_the_page_diagnoses_the_trained_model_from_its_files(trained):
    at = open_app("pages/diagnose.py")
    at.file_uploader(key="diagnose_weights").upload("model.pt", _trained_bytes(trained, "model.pt")).run()
    at.file_uploader(key="diagnose_inputs").upload("tokens.npy", _trained_bytes(trained, "tokens.npy")).run()
    at.file_uploader(key="diagnose_targets").upload("targets.npy", _trained_bytes(trained, "targets.npy")).run()
    assert not at.exception and "say which layout" in at.warning[0].value  # (24, 16) reads both ways: asked
    assert not chart_specs(at)
    at.radio(key="diagnose_layout").set_value("batch first (B, T, ...)").run()
    assert_clean(at)
    assert "2-layer bidirectional LSTM" in at.success[0].value
    assert len(chart_specs(at)) == 6
    forward = array_of(chart_specs(at)[0]["data"][0]["z"]).astype(float)  # (layers, T), the forward direction
    np.testing.assert_allclose(10**forward, _torch_dh_norms(trained)[:, 0], rtol=1e-8)


def test_the_reproduction_zip_holds_a_runnable_script(trained, tmp_path):
    model, seqs = _load(trained)
    (tmp_path / "model.pt").write_bytes(_trained_bytes(trained, "model.pt"))
    script = reproduce.script(model, "model.pt", seqs.loss)
    compile(script, "reproduce.py", "exec")
    with zipfile.ZipFile(io.BytesIO(reproduce.data_npz(seqs))) as zf:
        assert {"x.npy", "y.npy", "mask.npy", "lengths.npy", "tokens.npy"} <= set(zf.namelist())


def test_the_command_reads_text_with_an_embedding_and_csv_series(tmp_path):
    """A character model (embedding, GRU, read-out under other prefixes) on text with next-character targets;
    a CSV series with a header and CSV targets: both diagnosed, their reports shaped by the data."""
    spec = bc.RNNSpec("gru", 3, 5, 4)
    params = bc.init_params(spec, seed=0)
    arrays = {f"encoder.rnn.{k}": v for k, v in params.items() if not k.endswith("_out")}
    arrays |= {"encoder.emb.weight": np.random.default_rng(0).standard_normal((4, 3))}
    arrays |= {"decoder.weight": params["weight_out"], "decoder.bias": params["bias_out"]}
    (tmp_path / "char.npz").write_bytes(npz(**arrays))
    (tmp_path / "text.txt").write_text("abcad\ndcab\n")
    argv = [str(tmp_path / "char.npz"), "--inputs", str(tmp_path / "text.txt"), "--alphabet", "abcd", "--next-token"]
    assert diagnose.main([*argv, "--out", str(tmp_path / "text")]) == 0
    report = json.loads((tmp_path / "text" / "report.json").read_text())
    assert report["loss"] == "cross_entropy" and report["T"] == 4 and np.array(report["dh_norms"]).shape == (1, 1, 4)
    series = "a,b,c\n" + "\n".join(
        ",".join(f"{v:.3f}" for v in row) for row in np.random.default_rng(1).random((12, 3))
    )
    (tmp_path / "series.csv").write_text(series)
    (tmp_path / "y.csv").write_text("\n".join(f"{v:.3f},{-v:.3f},0,1" for v in np.linspace(0, 1, 12)))
    spec_mse = bc.RNNSpec("lstm", 3, 6, 4)
    named = {f"rnn.{k}": v for k, v in bc.init_params(spec_mse, seed=1).items() if not k.endswith("_out")}
    named |= {"fc.weight": np.zeros((4, 6)), "fc.bias": np.zeros(4)}
    (tmp_path / "lstm.npz").write_bytes(npz(**named))
    argv = [str(tmp_path / "lstm.npz"), "--inputs", str(tmp_path / "series.csv"), "--targets", str(tmp_path / "y.csv")]
    assert diagnose.main([*argv, "--out", str(tmp_path / "csv")]) == 0
    report = json.loads((tmp_path / "csv" / "report.json").read_text())
    assert report["loss"] == "mse" and (report["T"], report["B"]) == (12, 1)


def test_the_command_never_guesses_a_layout(trained, tmp_path, capsys):
    """tokens.npy (24, 16) reads as 16 sequences of 24 steps or 24 of 16: the command says so, names both flags,
    and writes nothing; with --batch-first it diagnoses."""
    folder, out = trained["folder"], tmp_path / "out"
    argv = [str(folder / "model.pt"), "--inputs", str(folder / "tokens.npy"), "--targets", str(folder / "targets.npy")]
    assert diagnose.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "tokens.npy has shape (24, 16)" in err
    assert "--time-first" in err and "--batch-first" in err and not out.exists()
    with pytest.raises(SystemExit):
        diagnose.main([*argv, "--batch-first", "--time-first", "--out", str(out)])
    assert "not allowed with" in capsys.readouterr().err


def test_the_command_writes_the_reproduce_script_and_it_prints_the_reports_numbers(trained, tmp_path):
    """--reproduce writes reproduce.py and its data; run in a subprocess, without arguments it prints its usage,
    with them the loss, every parameter's gradient norm and dh_norms of report.json."""
    folder, out = trained["folder"], tmp_path / "out"
    argv = [str(folder / "model.pt"), "--inputs", str(folder / "tokens.npy"), "--targets", str(folder / "targets.npy")]
    assert diagnose.main([*argv, "--batch-first", "--reproduce", "--out", str(out)]) == 0
    usage = subprocess.run([sys.executable, "reproduce.py"], cwd=out, capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: python reproduce.py WEIGHTS DATA" in usage.stdout and not usage.stderr
    done = subprocess.run(
        [sys.executable, "reproduce.py", str(folder / "model.pt"), "diagnose_data.npz"],
        cwd=out, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed, report = json.loads(done.stdout), json.loads((out / "report.json").read_text())
    assert printed["loss"] == pytest.approx(report["loss_value"], rel=1e-10)
    assert bc.relative_error(np.array(printed["dh_norms"]), np.array(report["dh_norms"])) < 1e-8
    assert printed["grad_norms"].keys() == report["grad_norms"].keys()
    for key, norm in report["grad_norms"].items():
        assert printed["grad_norms"][key] == pytest.approx(norm, rel=1e-8), key


def test_the_command_tries_the_fixes_and_writes_the_fine_tuned_weights(tmp_path):
    """The exploding demo on the adding problem: --try-fixes fine-tunes it as is and with each change, writes
    fixes.json with both runs' curves and a verdict, the weights under the file's names, and the curves in the
    HTML."""
    from dashboard.diagnose.demos import builtin_sequences

    (tmp_path / "model.npz").write_bytes(demo_model("exploding"))
    model = read_model(demo_model("exploding"))
    seqs = builtin_sequences(model, "adding", 30, 16)
    (tmp_path / "data.npz").write_bytes(npz(inputs=seqs.x))
    (tmp_path / "y.npy").write_bytes(_npy(seqs.y[-1]))
    argv = [str(tmp_path / "model.npz"), "--inputs", str(tmp_path / "data.npz"), "--targets", str(tmp_path / "y.npy")]
    out = tmp_path / "out"
    assert diagnose.main([*argv, "--time-first", "--try-fixes", "--steps", "20", "--out", str(out)]) == 0
    report, tried = json.loads((out / "report.json").read_text()), json.loads((out / "fixes.json").read_text())
    assert [t["rule"] for t in tried] == [r["rule"] for r in report["recommendations"] + report["options"]]
    assert tried and all(len(t["runs"]["as is"]["loss"]) == len(t["runs"]["with the change"]["loss"]) == 20
                         for t in tried)  # fmt: skip
    assert all(t["verdict"] in ("helped", "hurt", "no clear difference", "neither converged") for t in tried)
    for t in tried:
        weights = next(out.glob(f"fine_tuned_{t['rule']}_with_the_change.*"))
        assert set(read_model(weights.read_bytes()).params) == set(model.params)
    assert (out / "report.html").read_text().count("Plotly.newPlot") == 6 + len(tried)


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()
