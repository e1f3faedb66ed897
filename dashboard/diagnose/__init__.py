"""Diagnose your own model: read a trained network and its sequences (:mod:`.model_files`,
:mod:`.sequence_files`), measure it (:mod:`.measurements`), advise (with the evidence), write the
report and a PyTorch script that reproduces its numbers (:mod:`.reproduce`); ``python -m
dashboard.diagnose`` is the command (:mod:`.command`)."""
