"""The layer classes of `graphflow.nn`."""
