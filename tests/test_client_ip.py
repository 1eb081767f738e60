"""smsapp.lib.client_ip: the client's address for logs, believing X-Forwarded-For only as
far as BEHIND_PROXY says proxies of our own wrote it."""

import pytest

from smsapp.lib.client_ip import client_ip


@pytest.mark.parametrize(
    ("forwarded", "proxies", "expected"),
    [
        ("", 0, "10.0.0.2"),
        ("198.51.100.7", 0, "10.0.0.2"),  # no proxy: a client wrote the header
        ("198.51.100.7", 1, "198.51.100.7"),
        ("6.6.6.6, 198.51.100.7", 1, "198.51.100.7"),  # the client's own entry is ignored
        ("6.6.6.6, 198.51.100.7, 10.0.0.9", 2, "198.51.100.7"),  # a balancer, then nginx
        ("198.51.100.7 ,  10.0.0.9", 2, "198.51.100.7"),
        ("10.0.0.9", 2, "10.0.0.9"),  # fewer entries than proxies: the farthest one
        ("", 1, "10.0.0.2"),  # the proxy added nothing: the peer
    ],
)
def test_the_client_is_the_entry_our_farthest_proxy_wrote(forwarded, proxies, expected):
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": forwarded}

    assert client_ip(meta, trusted_proxies=proxies) == expected


def test_a_request_without_a_peer_address_is_a_question_mark():
    assert client_ip({}, trusted_proxies=0) == "?"
