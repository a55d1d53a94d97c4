"""Benchmarks: voice-to-voice latency and calls per core (``make bench``)."""
