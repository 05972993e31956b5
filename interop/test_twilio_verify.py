"""The Twilio Verify v2 dialect through the official `twilio` Python SDK, used unchanged.

`Client(key_id, secret)`: otpd key ids are `SK...`, the shape of a Twilio API key sid, so the
SDK sends HTTP Basic `key_id:secret` as it would to Twilio. The one change is where it sends
them: every SDK domain has a public `base_url` (`https://verify.twilio.com` for Verify), and
setting `client.verify.base_url` to otpd's address points all of Verify at otpd.
"""

import datetime

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client


@pytest.fixture
def client(otpd):
    c = Client(otpd.key_id, otpd.secret)
    c.verify.base_url = otpd.base
    return c


def sms_code(otpd, to):
    msgs = otpd.outbox(to)
    assert msgs, f"nothing sent to {to}"
    return msgs[0]["body"].rsplit(" ", 1)[1]


def wrong(code):
    return ("8" if code[0] == "9" else "9") + code[1:]


def test_service_verification_check_cancel_fetch(otpd, client):
    service = client.verify.v2.services.create(friendly_name="Acme", code_length=6)
    assert service.sid.startswith("VA") and len(service.sid) == 34
    assert service.account_sid.startswith("AC")
    assert service.friendly_name == "Acme" and service.code_length == 6
    assert isinstance(service.date_created, datetime.datetime)
    assert client.verify.v2.services(service.sid).fetch().sid == service.sid
    assert [s.sid for s in client.verify.v2.services.list()] == [service.sid]

    to = "+14155552671"
    v = client.verify.v2.services(service.sid).verifications.create(to=to, channel="sms")
    assert v.sid.startswith("VE") and v.status == "pending" and v.valid is False
    assert v.to == to and v.channel == "sms" and v.service_sid == service.sid
    assert v.account_sid == service.account_sid
    assert len(v.send_code_attempts) == 1
    assert isinstance(v.date_created, datetime.datetime)

    code = sms_code(otpd, to)
    checks = client.verify.v2.services(service.sid).verification_checks
    c = checks.create(to=to, code=wrong(code))
    assert (c.status, c.valid, c.sid) == ("pending", False, v.sid)
    c = checks.create(verification_sid=v.sid, code=code)
    assert (c.status, c.valid) == ("approved", True)
    # Approved is gone for checks, as on Twilio.
    with pytest.raises(TwilioRestException) as e:
        checks.create(to=to, code=code)
    assert (e.value.status, e.value.code) == (404, 20404)
    fetched = client.verify.v2.services(service.sid).verifications(v.sid).fetch()
    assert fetched.status == "approved"

    # A second verification, canceled.
    v2 = client.verify.v2.services(service.sid).verifications.create(to=to, channel="sms")
    assert v2.sid != v.sid
    canceled = client.verify.v2.services(service.sid).verifications(v2.sid).update(status="canceled")
    assert canceled.status == "canceled"
    assert client.verify.v2.services(service.sid).verifications(v2.sid).fetch().status == "canceled"
    with pytest.raises(TwilioRestException) as e:
        checks.create(verification_sid=v2.sid, code=sms_code(otpd, to))
    assert (e.value.status, e.value.code) == (404, 20404)


def test_errors_reach_the_sdk_as_twilio_errors(otpd, client):
    service = client.verify.v2.services.create(friendly_name="Acme")
    verifications = client.verify.v2.services(service.sid).verifications
    with pytest.raises(TwilioRestException) as e:
        verifications.create(to="4155552671", channel="sms")
    assert (e.value.status, e.value.code) == (400, 60200)
    assert "`To`" in e.value.msg
    with pytest.raises(TwilioRestException) as e:
        verifications.create(to="+14155552671", channel="whatsapp")
    assert (e.value.status, e.value.code) == (400, 60200)
    assert "`Channel`" in e.value.msg
    with pytest.raises(TwilioRestException) as e:
        client.verify.v2.services("VA" + "0" * 32).verifications.create(to="+14155552671", channel="sms")
    assert (e.value.status, e.value.code) == (404, 20404)

    bad = Client(otpd.key_id, "wrong-secret")
    bad.verify.base_url = otpd.base
    with pytest.raises(TwilioRestException) as e:
        bad.verify.v2.services(service.sid).verifications.create(to="+14155552671", channel="sms")
    assert (e.value.status, e.value.code) == (401, 20003)


def test_max_attempts_and_send_limit(otpd, client):
    service = client.verify.v2.services.create(friendly_name="Acme")
    to = "+14155552673"
    verifications = client.verify.v2.services(service.sid).verifications
    v = verifications.create(to=to, channel="sms")
    code = sms_code(otpd, to)
    checks = client.verify.v2.services(service.sid).verification_checks
    statuses = [checks.create(verification_sid=v.sid, code=wrong(code)).status for _ in range(5)]
    assert statuses == ["pending"] * 4 + ["max_attempts_reached"]
    with pytest.raises(TwilioRestException) as e:
        checks.create(verification_sid=v.sid, code=code)
    assert (e.value.status, e.value.code) == (429, 60202)

    # Five sends per number in ten minutes (the service default), then 60203.
    other = "+14155552674"
    for _ in range(5):
        verifications.create(to=other, channel="sms")
    with pytest.raises(TwilioRestException) as e:
        verifications.create(to=other, channel="sms")
    assert (e.value.status, e.value.code) == (429, 60203)


def test_custom_code(otpd, client):
    service = client.verify.v2.services.create(friendly_name="Acme", custom_code_enabled=True)
    assert service.custom_code_enabled is True
    to = "+14155552675"
    client.verify.v2.services(service.sid).verifications.create(to=to, channel="sms", custom_code="4711AB")
    assert sms_code(otpd, to) == "4711AB"
    c = client.verify.v2.services(service.sid).verification_checks.create(to=to, code="4711ab")
    assert c.status == "approved"
