"""The credit-hour ledger and the attendance reports.

``service``: session results (record + stored corrections, judged by ``server.core.ledger``),
transcripts, the honour list and corrections; ``reports``: the session and org-unit reports;
``sheets``: those reports as XLSX/CSV sheets; ``http``: the endpoints.

**Corrections** of a session result are audit-log entries (entity ``session_result``, id
``<session>/<trainee>``); results are recomputed from the attendance record and the stored
corrections are replayed in order (``server.core.ledger.apply_corrections``), so the trail is
the single source of the changes.
"""
