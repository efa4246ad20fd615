"""SAS tokens: created and checked by the same code the relay runs."""

from __future__ import annotations

import urllib.parse

import pytest

import interlink
from interlink import create_token, validate_token

KEY = "c2VjcmV0LWtleQ=="
RULES = [("root", KEY, "listen,send,manage"), ("sendonly", KEY, "send")]
RESOURCE = "http://127.0.0.1:9090/hc1"
NOW = 1_700_000_000


def test_a_token_has_the_sas_shape_and_validates():
    t = create_token(RESOURCE, "root", KEY, expiry=NOW + 60)
    fields = dict(p.split("=", 1) for p in t.removeprefix("SharedAccessSignature ").split("&"))
    assert t.startswith("SharedAccessSignature sr=")
    assert urllib.parse.unquote(fields["sr"]) == RESOURCE
    assert (fields["se"], fields["skn"]) == (str(NOW + 60), "root")
    info = validate_token(t, RESOURCE, RULES, required="listen", now=NOW)
    assert (info.key_name, info.expiry) == ("root", NOW + 60)
    assert "listen" in info.rights
    # the gateway's address forms name the same audience
    validate_token(t, "ws://127.0.0.1:9090/$hc/hc1?sb-hc-action=listen", RULES, now=NOW)
    validate_token(t, "sb://127.0.0.1/hc1/sub", RULES, now=NOW)


def test_ttl_defaults_to_an_hour_from_now():
    import time

    t = create_token(RESOURCE, "root", KEY)
    se = int(t.split("&se=")[1].split("&")[0])
    assert abs(se - (time.time() + 3600)) < 60
    assert validate_token(t, RESOURCE, RULES).expiry == se


@pytest.mark.parametrize(
    "token, resource, required, now, code, status",
    [
        (create_token(RESOURCE, "root", KEY, expiry=NOW), RESOURCE, "send", NOW + 301, "token_expired", 401),
        (create_token(RESOURCE, "root", "b3RoZXI=", expiry=NOW), RESOURCE, "send", NOW, "bad_signature", 401),
        (create_token(RESOURCE, "nobody", KEY, expiry=NOW), RESOURCE, "send", NOW, "unknown_key_name", 401),
        (create_token(RESOURCE, "root", KEY, expiry=NOW), "http://127.0.0.1:9090/hc2", "send", NOW, "invalid_audience", 401),
        (create_token(RESOURCE, "sendonly", KEY, expiry=NOW), RESOURCE, "listen", NOW, "insufficient_rights", 403),
        ("SharedAccessSignature nonsense", RESOURCE, "send", NOW, "token_malformed", 401),
        ("", RESOURCE, "send", NOW, "token_missing", 401),
    ],
)
def test_invalid_tokens_raise_auth_errors(token, resource, required, now, code, status):
    with pytest.raises(interlink.AuthError) as err:
        validate_token(token, resource, RULES, required=required, now=now)
    assert (err.value.code, err.value.status) == (code, status)


def test_unknown_rights_are_config_errors():
    with pytest.raises(interlink.ConfigError):
        validate_token("x", RESOURCE, RULES, required="fly")
