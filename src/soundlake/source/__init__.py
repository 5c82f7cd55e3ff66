"""L2: SQL-database access: schema, dialects, loaders, generator, typed Arrow batch readers."""
