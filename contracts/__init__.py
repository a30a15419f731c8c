"""Event contracts shared by every redshield service: envelopes, topics, codes and event models."""
