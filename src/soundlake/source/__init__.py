"""L2: SQL-database access: schema, dialects, bulk writes, typed Arrow batch readers."""
