"""Flow strategies: streaming/append, once, materialized view, AUTO CDC.

A flow's kind (data, see :attr:`FlowPlan.kind`) selects its strategy; engines differ only
through the Engine protocol and its capabilities.
"""
