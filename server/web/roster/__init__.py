"""The roster: import and export of trainees (service: the store; http: the endpoints)."""
