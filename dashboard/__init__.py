"""The dashboard's figures, data and app helpers (on top of bptt_core)."""
