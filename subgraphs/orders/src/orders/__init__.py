"""The orders subgraph: the product catalog, orders, and their lifecycle."""
