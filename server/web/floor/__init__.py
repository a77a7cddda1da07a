"""The floor (发言权): which remote site may speak to everyone, and the moderator's one queue."""
