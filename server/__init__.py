"""Live-session and hybrid-classroom orchestration server."""

__version__ = "0.1.0"
