"""The payments subgraph."""
