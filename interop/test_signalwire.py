"""The SignalWire MFA dialect through the official SignalWire Python SDK (`signalwire-sdk`).

The SDK is used unchanged: `RestClient(project=key_id, token=secret, host="127.0.0.1:PORT")`.
For a loopback host the SDK itself speaks plain http (its `_is_loopback_host`, there for local
mock servers); any other host is https, so a deployment behind TLS works by its host name.
"""

import re

import pytest
from signalwire.rest import RestClient, SignalWireRestError

DEFAULT_MESSAGE = "Your Personal Authorization Code is:"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def client(otpd):
    return RestClient(project=otpd.key_id, token=otpd.secret, host=otpd.host)


def sent(otpd, to):
    """The newest message otpd's outbox provider kept for `to`."""
    msgs = otpd.outbox(to)
    assert msgs, f"nothing sent to {to}"
    return msgs[0]


def sms_token(otpd, to, message=DEFAULT_MESSAGE):
    body = sent(otpd, to)["body"]
    prefix = message + " "
    assert body.startswith(prefix), body
    token = body[len(prefix):]
    assert body == message + " " + token
    return token


def wrong(token):
    return ("8" if token[0] == "9" else "9") + token[1:]


def test_sms_defaults_and_verify(otpd, client):
    to = "+14155552671"
    r = client.mfa.sms(to=to)
    assert set(r) == {"id", "success", "to", "channel"}
    assert r["success"] is True and r["to"] == to and r["channel"] == "sms"
    assert UUID.match(r["id"]), r["id"]
    token = sms_token(otpd, to)
    assert re.fullmatch(r"[0-9]{6}", token), token
    assert client.mfa.verify(r["id"], token=token) == {"success": True}
    # Verified once; after that the request is gone.
    with pytest.raises(SignalWireRestError) as e:
        client.mfa.verify(r["id"], token=token)
    assert e.value.status_code == 404
    assert e.value.body == {"error": "Not Found"}


def test_sms_every_field(otpd, client):
    to = "+14155552672"
    r = client.mfa.sms(
        to=to,
        from_="+14155550100",
        message="Acme sign-in code:",
        token_length=10,
        valid_for=600,
        max_attempts=5,
        allow_alphas=True,
    )
    token = sms_token(otpd, to, "Acme sign-in code:")
    assert re.fullmatch(r"[0-9A-Z]{10}", token), token
    assert client.mfa.verify(r["id"], token=wrong(token)) == {"success": False}
    assert client.mfa.verify(r["id"], token=token) == {"success": True}


def test_call(otpd, client):
    to = "+14155552673"
    r = client.mfa.call(to=to, message="Your Acme code is", token_length=4)
    assert r["channel"] == "call" and r["to"] == to and r["success"] is True
    msg = sent(otpd, to)
    assert msg["channel"] == "call"
    once = msg["body"].split(". ")[0]
    assert msg["body"] == f"{once}. {once}."
    token = once.removeprefix("Your Acme code is ").replace(", ", "")
    assert re.fullmatch(r"[0-9]{4}", token), msg["body"]
    assert client.mfa.verify(r["id"], token=token) == {"success": True}


def test_wrong_tokens_until_exhausted(otpd, client):
    to = "+14155552674"
    r = client.mfa.sms(to=to, max_attempts=2)
    token = sms_token(otpd, to)
    assert client.mfa.verify(r["id"], token=wrong(token)) == {"success": False}
    assert client.mfa.verify(r["id"], token=wrong(token)) == {"success": False}
    with pytest.raises(SignalWireRestError) as e:
        client.mfa.verify(r["id"], token=token)
    assert (e.value.status_code, e.value.body) == (404, {"error": "Not Found"})


def test_unknown_id_is_404(client):
    with pytest.raises(SignalWireRestError) as e:
        client.mfa.verify("01234567-89ab-cdef-0123-456789abcdef", token="123456")
    assert (e.value.status_code, e.value.body) == (404, {"error": "Not Found"})


def test_bad_credentials_are_401(otpd):
    for project, token in [(otpd.key_id, "wrong"), ("project-id", "api-token")]:
        bad = RestClient(project=project, token=token, host=otpd.host)
        with pytest.raises(SignalWireRestError) as e:
            bad.mfa.sms(to="+14155552675")
        assert (e.value.status_code, e.value.body) == (401, {"error": "Unauthorized"})
    assert otpd.outbox("+14155552675", wait=0.3) == []


def test_a_second_key_of_the_tenant_works(otpd):
    key = otpd.new_key(scopes="verify")
    c = RestClient(project=key["key_id"], token=key["secret"], host=otpd.host)
    r = c.mfa.sms(to="+14155552676")
    assert c.mfa.verify(r["id"], token=sms_token(otpd, "+14155552676")) == {"success": True}


@pytest.mark.parametrize(
    "kwargs, fields",
    [
        ({"to": "4155552677"}, ["to"]),
        ({"to": "+14155552677", "token_length": 3}, ["token_length"]),
        ({"to": "+14155552677", "token_length": 21}, ["token_length"]),
        ({"to": "+14155552677", "valid_for": 0}, ["valid_for"]),
        ({"to": "+14155552677", "valid_for": 604801}, ["valid_for"]),
        ({"to": "+14155552677", "max_attempts": 0}, ["max_attempts"]),
        ({"to": "+14155552677", "max_attempts": 21}, ["max_attempts"]),
        ({"to": "+14155552677", "message": "a" * 154}, ["message"]),
        ({"to": "+14155552677", "message": "ł" + "a" * 63}, ["message"]),
        ({"to": "+14155552677", "from_": "nope"}, ["from"]),
        ({"to": "+14155552677", "allow_alphas": "yes"}, ["allow_alphas"]),
        (
            {"to": "+1", "token_length": 99, "valid_for": -1, "max_attempts": "3"},
            ["to", "token_length", "valid_for", "max_attempts"],
        ),
    ],
)
def test_validation_errors_are_422(otpd, client, kwargs, fields):
    for send in (client.mfa.sms, client.mfa.call):
        with pytest.raises(SignalWireRestError) as e:
            send(**kwargs)
        assert e.value.status_code == 422
        errors = e.value.body["errors"]
        assert [err["detail"].split(" ")[0] for err in errors] == fields
        for err in errors:
            assert set(err) == {"detail", "status", "title", "code"}
            assert err["status"] == "422"
            assert all(isinstance(err[k], str) for k in err)
    assert otpd.outbox("+14155552677", wait=0.3) == []


def test_messages_that_just_fit(otpd, client):
    for to, message in [("+14155552678", "a" * 153), ("+14155552679", "ł" + "a" * 62)]:
        client.mfa.sms(to=to, message=message)
        sms_token(otpd, to, message)


def test_missing_token_is_422(otpd, client):
    r = client.mfa.sms(to="+14155552680")
    with pytest.raises(SignalWireRestError) as e:
        client.mfa.verify(r["id"], token=None)
    assert e.value.status_code == 422
    assert e.value.body["errors"][0]["detail"] == "token is required"


def test_logs_hold_no_token_number_or_secret(otpd, client):
    to = "+14155552681"
    r = client.mfa.sms(to=to)
    token = sms_token(otpd, to)
    client.mfa.verify(r["id"], token=wrong(token))
    client.mfa.verify(r["id"], token=token)
    log = "\n".join(otpd.stderr_lines)
    for secret in (token, to, to[1:], otpd.secret):
        assert secret not in log
