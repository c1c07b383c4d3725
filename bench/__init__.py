"""Benchmarks of the shopgraph supergraph: seeding, vegeta scenarios, process and store probes, reports."""
