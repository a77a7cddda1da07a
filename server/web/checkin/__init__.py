"""In-room check-in: the rotating code, trainees' check-ins (written in groups), check-out,
marks by hand, the wrong-code guard and the live "who is present changed" events.

``service`` (the transactions), ``writer`` (group commit), ``guard`` (wrong codes, rooms),
``records`` (record rows <-> core records), ``events`` (live), ``http`` (the endpoints).
"""
