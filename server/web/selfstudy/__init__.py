"""Self-study courses (自学课程): ``service`` (transactions, queries other features call) and
``http`` (the endpoints)."""
