"""Input and output: weight files (:mod:`.weights`: .npz, .safetensors, PyTorch state dicts) and the
export of every figure with its data (:mod:`.export`, also ``python -m dashboard.io.export``)."""
