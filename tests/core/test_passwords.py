from server.core.passwords import password_problems


def test_strong_passwords_pass() -> None:
    assert password_problems("Tr4ining-Office!", "admin") == []
    assert password_problems("correct horse battery staple", "admin") == []  # passphrase


def test_weak_passwords_are_refused_with_stable_codes() -> None:
    assert "password.too_short" in password_problems("Ab1!", "admin")
    assert password_problems("abcdefghijkl", "x") == ["password.too_simple"]
    assert "password.repeated" in password_problems("aaaaaaaaaaaaaaaaaaaa")
    assert "password.contains_username" in password_problems("Zhangwei-2026!x", "zhangwei")
    assert "password.common" in password_problems("Password1234")
    assert "password.too_long" in password_problems("Aa1!" * 100)
