"""L0: root error, ids, clock, typed literals, base config model."""
