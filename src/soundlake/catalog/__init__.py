"""L2: table registry, state (watermarks, checkpoints), lineage, lock."""
