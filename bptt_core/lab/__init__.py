"""Teaching helpers on top of the engine: training, optimizers, tasks, signals, estimators, the chain rule."""
