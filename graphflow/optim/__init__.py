"""Optimizers (`SGD`, `Adam`, `AdamW`, `RMSprop`), learning-rate schedulers, and the pure update
rules they share with static mode (`graphflow.optim.functional`)."""
