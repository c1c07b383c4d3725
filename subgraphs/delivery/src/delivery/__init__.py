"""The delivery subgraph: deliveries created from captured payments, tracked in Redis."""
