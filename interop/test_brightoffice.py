"""BrightOffice ConfirmCustomerUserMFA / RequestCustomerUserMFA through zeep, which loads otpd's
WSDL and calls it over the SOAP 1.1 binding and over the SOAP 1.2 binding."""

import re
import uuid

import pytest
import requests
import zeep

PATH = "/Webservices/BrightOfficeAPI.asmx"
SERVICE = "BrightOfficeAPI"
PORTS = ["BrightOfficeAPISoap", "BrightOfficeAPISoap12"]
PASSWORD = "correct horse battery"


def client_for(otpd, port):
    client = zeep.Client(otpd.url(PATH + "?WSDL"))
    return client.bind(SERVICE, port)


def customer(otpd, phone="+31612345678", password=PASSWORD, temporary=False):
    pid = str(uuid.uuid4())
    email = f"cust-{pid[:8]}@example.com"
    body = {"id": pid, "email": email}
    if phone:
        body["phone"] = phone
    r = otpd.post("/v1/persons", body)
    assert r.status_code == 201, r.text
    r = otpd.post(f"/v1/persons/{pid}/password", {"password": password, "temporary": temporary})
    assert r.status_code == 204, r.text
    return pid, email


def code_sent_to(otpd, to):
    body = otpd.outbox(to)[0]["body"]
    return re.search(r"\b(\d{6})\b", body).group(1)


@pytest.fixture(params=PORTS)
def port(request):
    return request.param


def test_wsdl_has_both_bindings(otpd):
    r = requests.get(otpd.url(PATH + "?WSDL"), timeout=10)
    assert r.status_code == 200
    assert r.text.count(f'location="{otpd.url(PATH)}"') == 2
    client = zeep.Client(otpd.url(PATH + "?WSDL"))
    ports = client.wsdl.services[SERVICE].ports
    assert set(ports) == set(PORTS)
    assert ports["BrightOfficeAPISoap12"].binding.__class__.__name__ == "Soap12Binding"


def test_request_wrong_then_right_code(otpd, port):
    svc = client_for(otpd, port)
    user = {"Username": otpd.key_id, "Password": otpd.secret}
    pid, email = customer(otpd)
    r = svc.RequestCustomerUserMFA(CustomerInfo={"Email": email, "Password": PASSWORD}, UserInfo=user)
    assert r.SuccessCode == "SUCCESS", r
    assert r.IsSystemError is False
    assert "+31*******78" in r.Message
    code = code_sent_to(otpd, "+31612345678")
    wrong = "000000" if code != "000000" else "111111"
    r = svc.ConfirmCustomerUserMFA(
        CustomerInfo={"Email": email, "Password": PASSWORD, "MFACode": wrong}, UserInfo=user
    )
    assert r.SuccessCode == "OTHER", r
    r = svc.ConfirmCustomerUserMFA(
        CustomerInfo={"Id": pid, "Password": PASSWORD, "MFACode": code}, UserInfo=user
    )
    assert r.SuccessCode == "SUCCESS", r
    r = svc.ConfirmCustomerUserMFA(
        CustomerInfo={"Id": pid, "Password": PASSWORD, "MFACode": code}, UserInfo=user
    )
    assert r.SuccessCode == "MISSINGRECORD", r


def test_wrong_password_and_unknown_email_read_the_same(otpd, port):
    svc = client_for(otpd, port)
    user = {"Username": otpd.key_id, "Password": otpd.secret}
    _, email = customer(otpd)
    wrong_password = svc.ConfirmCustomerUserMFA(
        CustomerInfo={"Email": email, "Password": "not the password", "MFACode": "123456"}, UserInfo=user
    )
    unknown_email = svc.ConfirmCustomerUserMFA(
        CustomerInfo={"Email": "nobody@example.com", "Password": PASSWORD, "MFACode": "123456"}, UserInfo=user
    )
    assert wrong_password.SuccessCode == unknown_email.SuccessCode == "LOGINERROR"
    assert wrong_password.Message == unknown_email.Message
    assert wrong_password.IsSystemError is unknown_email.IsSystemError is False
    # The same through the request operation.
    a = svc.RequestCustomerUserMFA(CustomerInfo={"Email": email, "Password": "nope nope nope"}, UserInfo=user)
    b = svc.RequestCustomerUserMFA(CustomerInfo={"Email": "ghost@example.com", "Password": "x"}, UserInfo=user)
    assert (a.SuccessCode, a.Message) == (b.SuccessCode, b.Message) == ("LOGINERROR", wrong_password.Message)


def test_bad_api_user_is_loginerror(otpd, port):
    svc = client_for(otpd, port)
    _, email = customer(otpd)
    for user in (
        {"Username": otpd.key_id, "Password": otpd.secret + "x"},
        {"Username": "someone", "Password": "something"},
        None,
    ):
        r = svc.RequestCustomerUserMFA(CustomerInfo={"Email": email, "Password": PASSWORD}, UserInfo=user)
        assert r.SuccessCode == "LOGINERROR", r
        assert "API" in r.Message


def test_parameter_errors(otpd, port):
    svc = client_for(otpd, port)
    user = {"Username": otpd.key_id, "Password": otpd.secret}
    r = svc.ConfirmCustomerUserMFA(CustomerInfo={"Password": PASSWORD, "MFACode": "123456"}, UserInfo=user)
    assert r.SuccessCode == "PARAMETERERROR"
    assert r.Message.startswith("Id: ")
    r = svc.ConfirmCustomerUserMFA(CustomerInfo={"Email": "a@example.com", "Password": PASSWORD}, UserInfo=user)
    assert (r.SuccessCode, r.Message.split(":")[0]) == ("PARAMETERERROR", "MFACode")


def test_temporary_password_flow(otpd, port):
    svc = client_for(otpd, port)
    user = {"Username": otpd.key_id, "Password": otpd.secret}
    temp = "temporary pass 1"
    phone = "+31612345679"
    pid, email = customer(otpd, phone=phone, password=temp, temporary=True)
    r = svc.RequestCustomerUserMFA(CustomerInfo={"Email": email, "TemporaryPassword": temp}, UserInfo=user)
    assert r.SuccessCode == "SUCCESS", r
    code = code_sent_to(otpd, phone)
    base = {"Email": email, "TemporaryPassword": temp, "MFACode": code}
    r = svc.ConfirmCustomerUserMFA(CustomerInfo=base, UserInfo=user)
    assert r.SuccessCode == "PARAMETERERROR" and r.Message.startswith("NewPassword: "), r
    r = svc.ConfirmCustomerUserMFA(CustomerInfo={**base, "NewPassword": "short"}, UserInfo=user)
    assert r.SuccessCode == "PARAMETERERROR" and "12" in r.Message, r
    r = svc.ConfirmCustomerUserMFA(CustomerInfo={**base, "NewPassword": "a brand new password"}, UserInfo=user)
    assert r.SuccessCode == "SUCCESS", r
    # The temporary password no longer opens the account; the new one does.
    r = svc.RequestCustomerUserMFA(CustomerInfo={"Email": email, "Password": temp}, UserInfo=user)
    assert r.SuccessCode == "LOGINERROR"
    r = svc.RequestCustomerUserMFA(CustomerInfo={"Id": pid, "Password": "a brand new password"}, UserInfo=user)
    assert r.SuccessCode == "SUCCESS", r
