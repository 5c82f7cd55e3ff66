"""L4: composition root and Python facade."""
