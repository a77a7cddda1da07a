import base64
import hashlib
import hmac

import pytest

from server.core.turn import turn_credentials


def test_username_is_expiry_colon_peer_and_credential_is_the_hmac() -> None:
    username, credential = turn_credentials("s3cret", "site-12", now=1_700_000_000.7, ttl_s=3600)
    assert username == "1700003600:site-12"
    expected = hmac.new(b"s3cret", b"1700003600:site-12", hashlib.sha1).digest()
    assert base64.b64decode(credential) == expected


def test_peer_names_are_kept_to_a_safe_alphabet_and_ttl_must_be_positive() -> None:
    username, _ = turn_credentials("s", "user:3 ü", now=0, ttl_s=1)
    assert username == "1:user_3__"
    with pytest.raises(ValueError):
        turn_credentials("s", "x", now=0, ttl_s=0)
