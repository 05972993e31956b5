"""2FA send to person (seed 003) with python requests, as the seed's samples call it: the
response envelope for success, 400 and 401."""

import re
import uuid

import requests

BASE = "/2fa/2FactorAuthentication/TwoFaCommand/"
SEND = BASE + "Send2FactorAuthenticationCodeToPerson"
VERIFY = BASE + "Verify2FactorAuthenticationCode"
ENVELOPE_KEYS = {"Hint", "Errors", "ErrorMessages", "StatusCode", "RequestUri", "ExternalError", "HttpStatusCode"}


def post(otpd, path, body, key=None, headers=None):
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["Ocp-Apim-Subscription-Key"] = key
    h.update(headers or {})
    return requests.post(otpd.url(path), json=body, headers=h, timeout=10)


def person(otpd, **fields):
    pid = str(uuid.uuid4())
    r = otpd.post("/v1/persons", {"id": pid, **fields})
    assert r.status_code == 201, r.text
    return pid


def test_send_and_verify_success_envelopes(otpd):
    pid = person(otpd, phone="+31612345678", language="de")
    r = post(otpd, SEND, {"PersonId": pid, "ContextId": "ctx-1", "Medium": "sms"}, key=otpd.token)
    assert r.status_code == 200, r.text
    env = r.json()
    assert set(env) == ENVELOPE_KEYS
    assert env["Hint"] == "+31*******78"
    assert env["HttpStatusCode"] == env["StatusCode"] == 200
    assert env["Errors"] == {"IsValid": True, "Errors": [], "RuleSetsExecuted": ["default"]}
    assert env["ErrorMessages"] == [] and env["ExternalError"] is None
    assert env["RequestUri"] == SEND
    body = otpd.outbox("+31612345678")[0]["body"]
    assert body.startswith("Ihr otpd Bestätigungscode lautet: ")
    code = re.search(r"\b(\d{6})\b", body).group(1)
    r = post(otpd, VERIFY, {"PersonId": pid, "ContextId": "ctx-1", "Code": code}, key=otpd.token)
    assert r.status_code == 200, r.text
    assert r.json()["Hint"] == "+31*******78"


def test_email_medium(otpd):
    pid = person(otpd, email="jane@example.com")
    r = post(otpd, SEND, {"PersonId": pid, "Medium": "email", "Language": "ja"}, key=otpd.token)
    assert r.status_code == 200, r.text
    assert r.json()["Hint"] == "j***@example.com"
    assert "認証コード" in otpd.outbox("jane@example.com")[0]["body"]


def test_400_has_fluentvalidation_errors(otpd):
    r = post(otpd, SEND, {"PersonId": "", "Medium": "fax", "Colour": "red"}, key=otpd.token)
    assert r.status_code == 400
    env = r.json()
    assert set(env) == ENVELOPE_KEYS
    assert env["HttpStatusCode"] == env["StatusCode"] == 400
    assert env["Errors"]["IsValid"] is False
    failures = env["Errors"]["Errors"]
    assert [f["PropertyName"] for f in failures] == ["Colour"]
    assert failures[0]["ErrorCode"] == "AdditionalPropertiesValidator"
    r = post(otpd, SEND, {"PersonId": "", "Medium": "fax"}, key=otpd.token)
    failures = r.json()["Errors"]["Errors"]
    assert [(f["PropertyName"], f["ErrorCode"]) for f in failures] == [
        ("PersonId", "NotEmptyValidator"),
        ("Medium", "PredicateValidator"),
    ]
    assert failures[0]["ErrorMessage"] == "'Person Id' must not be empty."
    assert set(failures[0]) == {
        "PropertyName", "ErrorMessage", "AttemptedValue", "CustomState", "Severity", "ErrorCode",
        "FormattedMessageArguments", "FormattedMessagePlaceholderValues", "ResourceName",
    }
    assert r.json()["ErrorMessages"] == [f["ErrorMessage"] for f in failures]


def test_401_is_azure_api_managements_body(otpd):
    r = post(otpd, SEND, {"PersonId": str(uuid.uuid4())})
    assert r.status_code == 401
    assert r.json() == {
        "statusCode": 401,
        "message": "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
    }
    r = post(otpd, SEND, {"PersonId": str(uuid.uuid4())}, key=otpd.token + "x")
    assert r.status_code == 401
    assert r.json() == {
        "statusCode": 401,
        "message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
    }
