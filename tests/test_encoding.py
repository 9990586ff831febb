"""The one base64url helper: unpadded out, padded or unpadded in, nothing else in."""

import binascii

import pytest

from sluice.encoding import b64url_decode, b64url_encode


@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc", b"\xfb\xff\xfe", bytes(range(256))])
def test_round_trip_without_padding(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data
    assert b64url_decode(text + "=" * (-len(text) % 4)) == data


@pytest.mark.parametrize("text", ["%%%", "ab!c", "a b", "a"])
def test_refuses_what_is_not_base64url(text: str) -> None:
    with pytest.raises(binascii.Error):
        b64url_decode(text)
