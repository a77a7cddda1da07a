"""Staggered batches: who is on a session's roster, and planning the batches of a course."""
