"""graphflow's benchmark harness and main job."""
