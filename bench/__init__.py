"""Benchmarks of the shopgraph supergraph: seeding, k6 scenarios, process and store probes, reports."""
