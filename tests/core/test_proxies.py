import pytest

from server.core.errors import InvalidInput
from server.core.proxies import client_address, parse_proxies

NGINX = parse_proxies(["127.0.0.1", "10.0.0.0/24", "::1"])


def test_headers_from_an_untrusted_peer_are_ignored() -> None:
    assert client_address("198.51.100.7", "1.2.3.4", "1.2.3.4", NGINX) == "198.51.100.7"
    assert client_address("198.51.100.7", None, None, ()) == "198.51.100.7"
    assert client_address(None, "1.2.3.4", None, NGINX) == "unknown"


def test_the_first_untrusted_hop_from_the_right_is_the_client() -> None:
    assert client_address("127.0.0.1", "203.0.113.9", None, NGINX) == "203.0.113.9"
    # a client that forges the header gets its forgery ignored: nginx appended the real one
    assert client_address("127.0.0.1", "6.6.6.6, 203.0.113.9", None, NGINX) == "203.0.113.9"
    # two proxies (10.0.0.5 in front of nginx) are walked through
    assert client_address("127.0.0.1", "203.0.113.9, 10.0.0.5", None, NGINX) == "203.0.113.9"
    assert client_address("::1", "2001:db8::7", None, NGINX) == "2001:db8::7"
    assert client_address("::ffff:127.0.0.1", "[2001:db8::7]:5000", None, NGINX) == "2001:db8::7"
    assert client_address("127.0.0.1", "203.0.113.9:4711", None, NGINX) == "203.0.113.9"


def test_real_ip_garbage_and_all_proxies() -> None:
    assert client_address("127.0.0.1", None, "203.0.113.9", NGINX) == "203.0.113.9"
    assert client_address("127.0.0.1", "", "not-an-ip", NGINX) == "127.0.0.1"
    assert client_address("127.0.0.1", "junk, 203.0.113.9", None, NGINX) == "203.0.113.9"
    assert client_address("127.0.0.1", "203.0.113.9, junk", None, NGINX) == "127.0.0.1"
    assert client_address("127.0.0.1", "10.0.0.5, 10.0.0.6", None, NGINX) == "10.0.0.5"


def test_a_bad_proxy_entry_is_a_config_error() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_proxies(["10.0.0.0/33"])
    assert err.value.code == "config.trusted_proxies"
