"""The Exigo dialect through stock SOAP clients (zeep, suds) that load otpd's WSDL, and
through plain REST as the seed's HTTP sample does it."""

import pytest
import requests
import suds
import suds.client
import zeep
import zeep.exceptions

TO = "+14155552671"


def wsdl_url(otpd):
    return otpd.url("/3.0/ExigoApi.asmx?WSDL")


def test_wsdl_points_back_at_otpd(otpd):
    r = requests.get(wsdl_url(otpd), timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/xml")
    assert f'location="{otpd.url("/3.0/ExigoApi.asmx")}"' in r.text
    assert requests.get(otpd.url("/3.0/ExigoApi.asmx?wsdl"), timeout=10).text == r.text


def test_zeep_sends_the_callers_code(otpd):
    client = zeep.Client(wsdl_url(otpd))
    header = client.get_element("{http://api.exigo.com/}ApiAuthentication")(
        LoginName=otpd.key_id, Password=otpd.secret, Company="default"
    )
    result = client.service.SendAuthorizationMFACode(
        ToNumber=TO, Message="Your Acme code:", Code="482913", _soapheaders=[header]
    )
    assert result is None
    body = otpd.outbox(TO)[0]["body"]
    assert body == "Your Acme code: 482913"
    # The code is a verification like any other: checkable natively.
    service = otpd.get("/v1/services").json()["services"][0]
    r = otpd.post(f"/v1/services/{service['id']}/checks", {"to": TO, "code": "482913"})
    assert r.json()["valid"] is True


def test_zeep_default_message_and_faults(otpd):
    client = zeep.Client(wsdl_url(otpd))
    auth = client.get_element("{http://api.exigo.com/}ApiAuthentication")
    good = auth(LoginName=otpd.key_id, Password=otpd.secret, Company="default")
    client.service.SendAuthorizationMFACode(ToNumber=TO, Code="7731", _soapheaders=[good])
    assert otpd.outbox(TO)[0]["body"] == "Backoffice Authentication code: 7731"

    for bad in (
        auth(LoginName=otpd.key_id, Password="wrong", Company="default"),
        auth(LoginName=otpd.key_id, Password=otpd.secret, Company="other"),
    ):
        with pytest.raises(zeep.exceptions.Fault) as e:
            client.service.SendAuthorizationMFACode(ToNumber=TO, Code="1234", _soapheaders=[bad])
        assert e.value.code.endswith("Client")
        assert "Invalid login" in e.value.message
    with pytest.raises(zeep.exceptions.Fault) as e:
        client.service.SendAuthorizationMFACode(ToNumber=TO, _soapheaders=[good])
    assert e.value.message == "Code: is required"
    with pytest.raises(zeep.exceptions.Fault) as e:
        client.service.SendAuthorizationMFACode(ToNumber="12", Code="1234", _soapheaders=[good])
    assert e.value.message.startswith("ToNumber: ")


def test_suds_sends_the_callers_code(otpd):
    client = suds.client.Client(wsdl_url(otpd), cache=None)
    auth = client.factory.create("ApiAuthentication")
    auth.LoginName = otpd.key_id
    auth.Password = otpd.secret
    auth.Company = "default"
    client.set_options(soapheaders=auth)
    client.service.SendAuthorizationMFACode(ToNumber=TO, Message="Acme:", Code="55AB12")
    assert otpd.outbox(TO)[0]["body"] == "Acme: 55AB12"


def test_suds_bad_credentials_fault(otpd):
    client = suds.client.Client(wsdl_url(otpd), cache=None)
    auth = client.factory.create("ApiAuthentication")
    auth.LoginName = otpd.key_id
    auth.Password = otpd.secret
    auth.Company = "acme"
    client.set_options(soapheaders=auth)
    with pytest.raises(suds.WebFault) as e:
        client.service.SendAuthorizationMFACode(ToNumber=TO, Code="1234")
    assert e.value.fault.faultcode == "soap:Client"
    assert otpd.outbox(TO, wait=0.3) == []


def test_rest_with_a_key_of_another_tenant(otpd):
    key = otpd.new_key(scopes="verify", tenant="acme")
    r = requests.post(
        otpd.url("/3.0/sms/authorizationmfa"),
        json={"ToNumber": TO, "Code": "9090"},
        auth=(f"{key['key_id']}@acme", key["secret"]),
        timeout=10,
    )
    assert r.status_code == 200
    assert r.json() == {"result": None}
    r = requests.post(
        otpd.url("/3.0/sms/authorizationmfa"),
        json={"toNumber": TO, "code": "9090"},
        auth=(f"{key['key_id']}@default", key["secret"]),
        timeout=10,
    )
    assert r.status_code == 401
    assert r.json() == {"message": "Invalid login, password or company."}


def test_zeep_over_soap12(otpd):
    client = zeep.Client(wsdl_url(otpd))
    service = client.bind("ExigoApi", "ExigoApiSoap12")
    header = client.get_element("{http://api.exigo.com/}ApiAuthentication")(
        LoginName=otpd.key_id, Password=otpd.secret, Company="default"
    )
    service.SendAuthorizationMFACode(ToNumber=TO, Message="v1.2:", Code="3141", _soapheaders=[header])
    assert otpd.outbox(TO)[0]["body"] == "v1.2: 3141"
    bad = client.get_element("{http://api.exigo.com/}ApiAuthentication")(
        LoginName=otpd.key_id, Password="wrong", Company="default"
    )
    with pytest.raises(zeep.exceptions.Fault) as e:
        service.SendAuthorizationMFACode(ToNumber=TO, Code="3141", _soapheaders=[bad])
    assert e.value.code.endswith("Sender")


def test_no_code_secret_or_number_in_trace_logs(tmp_path):
    from conftest import Otpd

    server = Otpd(tmp_path / "data", env={"RUST_LOG": "trace"})
    try:
        client = zeep.Client(wsdl_url(server))
        auth = client.get_element("{http://api.exigo.com/}ApiAuthentication")
        client.service.SendAuthorizationMFACode(
            ToNumber=TO, Code="739184",
            _soapheaders=[auth(LoginName=server.key_id, Password=server.secret, Company="default")],
        )
        with pytest.raises(zeep.exceptions.Fault):
            client.service.SendAuthorizationMFACode(
                ToNumber=TO, Code="739185",
                _soapheaders=[auth(LoginName=server.key_id, Password=server.secret + "x", Company="default")],
            )
        requests.post(
            server.url("/3.0/sms/authorizationmfa"),
            json={"toNumber": TO, "code": "739186"},
            auth=(f"{server.key_id}@default", server.secret),
            timeout=10,
        )
        assert len(server.outbox(TO, at_least=2)) == 2
    finally:
        server.stop()
    logs = "\n".join(server.stderr_lines)
    assert len(logs) > 1000, "trace logging was on"
    for secret in ("739184", "739185", "739186", server.secret, "4155552671"):
        assert secret not in logs, f"{secret!r} leaked into the logs"
