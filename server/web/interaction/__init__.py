"""A session's interaction (Q&A, the floor, polls): who may act, the session's lock, the
interaction log and live messages, shared by the ``qa``, ``floor`` and ``polls`` packages."""
