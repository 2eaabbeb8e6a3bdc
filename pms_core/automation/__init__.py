"""Operation modes: basic / auto gating, the automatic mode's pure state machine and its runner."""
