"""Types of the C module built from _rtpsend.c (optional; see setup.py)."""

from typing import Any

class Member:
    gso: int
    ts_offset: int
    seq: int
    @property
    def last_timestamp(self) -> int: ...
    @property
    def frames_sent(self) -> int: ...
    @property
    def packets_sent(self) -> int: ...
    @property
    def octets_sent(self) -> int: ...
    @property
    def gso_sends(self) -> int: ...
    @property
    def native_sends(self) -> int: ...
    def __init__(self, gso: bool = True) -> None: ...
    def configure(
        self,
        ssrc: int,
        payload_type: int,
        ext_prefix: bytes,
        ext_suffix: bytes,
        has_abs: bool,
        report: dict[str, Any] | None,
        report_keys: tuple[str, str, str, str],
        /,
    ) -> None: ...
    def set_route(
        self, srtp: Any, session_address: int, sock: Any, sockaddr: bytes, addr: Any, /
    ) -> None: ...
    def send(
        self, frame: Any, timestamp: int, direct: bool, /
    ) -> tuple[int, int, list[bytes] | None]: ...
    def find(self, seq: int, /) -> tuple[int, int, Any] | None: ...

def fan_out(
    members: list[Member], frame: Any, source_pts: int, /
) -> list[tuple[Member, int, int, list[bytes] | None]] | None: ...
def use_protect(address: int, /) -> None: ...
