"""L5: the soundlake command line."""
