"""Diagnose your own model: read a trained network and its sequences (:mod:`.model_files`,
:mod:`.sequence_files`, or :mod:`.demos`), measure it (:mod:`.measurements`, with the held-out memory probe of
:mod:`.memory_need`), advise by written rules that keep their numbers (:mod:`.advice`; ``docs/diagnosis.md``
comes from :mod:`.rules_doc`), show and write the report (:mod:`.panels`), try each fix by fine-tuning
(:mod:`.fixes`), and write a PyTorch script that reproduces the numbers (:mod:`.reproduce`); ``python -m
dashboard.diagnose`` is the command (:mod:`.command`)."""
