"""What the engine's results mean: flow matrix, Jacobians, spectra, summaries, sweeps, studies, gradient checks."""
