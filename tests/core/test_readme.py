"""The README's engine example runs as written (its shapes are stated in its comments)."""

from pathlib import Path

import numpy as np


def test_the_readme_engine_example_runs_and_its_comments_hold():
    text = (Path(__file__).parents[2] / "README.md").read_text()
    start = text.index("```python\nimport numpy as np\nimport bptt_core as bc")
    code = text[start + len("```python\n") : text.index("```", start + 10)]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    bc, spec, params, x, y = (scope[k] for k in ("bc", "spec", "params", "x", "y"))
    assert scope["res"].dh_layers.shape == (2, 2, 50, 4, 16)
    assert bc.bptt(spec, params, x, y, input_grad=True).dx.shape == (50, 4, 3)
    assert bc.lyapunov_spectrum(spec, params, x, layer=1, direction=1, k=4).shape == (4, 4)
    assert bc.gate_saturation(spec, params, x).shape == (2, 2, 4, 3)
    assert np.all(np.isfinite(bc.output_sensitivity(spec, params, x).dx))
