"""L2: event log, metrics, reporters, HTML report."""
