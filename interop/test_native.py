"""The native API through a plain HTTP client, as the README's walkthrough does it."""


def test_walkthrough(otpd):
    service = otpd.service()
    r = otpd.post(f"/v1/services/{service['id']}/verifications", {"to": "+14155552671", "channel": "sms"})
    assert r.status_code == 201
    verification = r.json()
    body = otpd.outbox("+14155552671")[0]["body"]
    assert body.startswith("Your Acme verification code is: ")
    code = body.rsplit(" ", 1)[1]
    r = otpd.post(f"/v1/services/{service['id']}/verifications/{verification['id']}/check", {"code": code})
    assert r.json() == {"id": verification["id"], "status": "approved", "valid": True, "attempts_remaining": 5}


def test_bearer_token_and_bad_credentials(otpd):
    import requests

    r = requests.get(otpd.url("/v1/services"), headers={"Authorization": f"Bearer {otpd.token}"}, timeout=10)
    assert r.status_code == 200
    r = requests.get(otpd.url("/v1/services"), auth=(otpd.key_id, "wrong"), timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
