"""L3: declarative engine: definitions, SQL/Python loaders, graph, planner, flows, expectations."""
