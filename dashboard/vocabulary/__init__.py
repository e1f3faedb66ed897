"""The vocabulary every room speaks: the quantities the pages name, each defined once (:mod:`.quantities`),
and how numbers are written (:mod:`.numbers`). Reads nothing of the dashboard but the configuration."""
