"""Learning: the guided tour (:mod:`.tour`), the self-checks (:mod:`.quiz`) and the lessons' panels of
Loss over time, Stochastic nodes and the Training lab (:mod:`.lessons`). Reads the catalog and below."""
