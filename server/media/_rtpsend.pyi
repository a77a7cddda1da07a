"""Types of the C module built from _rtpsend.c (optional; see setup.py)."""

def send_frame(
    protect: int,
    session: int,
    fd: int,
    sockaddr: bytes,
    b0: int,
    payload_type: int,
    seq: int,
    timestamp: int,
    ssrc: int,
    ext: bytes,
    payloads: list[bytes],
    gso: bool,
    /,
) -> tuple[int, int, list[bytes] | None]: ...
