"""CreateTwoFactorSmsOtp (seed 001) against the real binary with plain HTTP, as the clients of
the ASP.NET service call it: raw JSON and raw DataContract XML, compared with the seed's
request and response samples (member names, order, types, namespaces)."""

import json
import xml.etree.ElementTree as ET

import requests

CREATE = "/api/TwoFactor/CreateTwoFactorSmsOtp"
VERIFY = "/api/TwoFactor/VerifyTwoFactorSmsOtp"
TO = "+14155552671"
REQ_NS = "http://schemas.datacontract.org/2004/07/BusinessLayer.Dto.Request"
RESP_NS = "http://schemas.datacontract.org/2004/07/BusinessLayer.Dto.Response"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# The seed's samples, verbatim.
SEED_JSON_REQUEST = """{
"UserId": "3698b76f-a5c0-4b04-b579-bc084019fb95",
"GsmNumber": "sample string 2",
"TwoFactorConfigurationId": 3,
"MaxSMSCount": 4,
"MaxSMSInterval": 5,
"OtpExpirationPeriod": 6,
"IsSync": true,
"Source": "sample string 7"
}"""
SEED_XML_REQUEST = """<CreateTwoFactorSmsOtpRequest xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/BusinessLayer.Dto.Request"> <GsmNumber>sample string 2</GsmNumber> <IsSync>true</IsSync> <MaxSMSCount>4</MaxSMSCount> <MaxSMSInterval>5</MaxSMSInterval> <OtpExpirationPeriod>6</OtpExpirationPeriod> <Source>sample string 7</Source> <TwoFactorConfigurationId>3</TwoFactorConfigurationId> <UserId>3698b76f-a5c0-4b04-b579-bc084019fb95</UserId> </CreateTwoFactorSmsOtpRequest>"""
SEED_JSON_RESPONSE = """{
"Id": 1,
"OtpIdReference": "sample string 2",
"ReferenceCode": "sample string 3",
"OtpCode": "sample string 4",
"RemainingExpirationSeconds": 5,
"GsmNumber": "sample string 6",
"ExceptionMessage": "sample string 7",
"Success": true,
"Code": 4000
}"""
SEED_XML_RESPONSE = """<CreateTwoFactorSmsOtpResponse xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/BusinessLayer.Dto.Response"> <Code>MaxOtpRequestExceededCode</Code> <ExceptionMessage>sample string 7</ExceptionMessage> <GsmNumber>sample string 6</GsmNumber> <Id>1</Id> <OtpCode>sample string 4</OtpCode> <OtpIdReference>sample string 2</OtpIdReference> <ReferenceCode>sample string 3</ReferenceCode> <RemainingExpirationSeconds>5</RemainingExpirationSeconds> <Success>true</Success> </CreateTwoFactorSmsOtpResponse>"""

CODE_NAMES = {
    1000: "SuccessCode", 2000: "ValidationErrorCode", 3000: "UserNotFoundCode",
    4000: "MaxOtpRequestExceededCode", 4100: "InvalidOtpCode", 4200: "OtpExpiredCode",
    4300: "MaxAttemptsExceededCode", 5000: "SmsSendFailedCode", 9000: "UnknownErrorCode",
}


def ordered(text):
    return json.loads(text, object_pairs_hook=list)


def three_services(otpd):
    for name in ("One", "Two", "Three"):
        otpd.service(name=name)


def post(otpd, path, data, content_type, accept=None, auth=None):
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    return requests.post(otpd.url(path), data=data, headers=headers, auth=auth or otpd.auth, timeout=30)


def sms_code(otpd, to):
    return otpd.outbox(to)[0]["body"].rsplit(" ", 1)[1]


def assert_like_seed_json(got_text):
    seed = ordered(SEED_JSON_RESPONSE)
    got = ordered(got_text)
    assert [k for k, _ in got] == [k for k, _ in seed]
    for (key, value), (_, sample) in zip(got, seed):
        if value is None:
            assert key in ("OtpIdReference", "ReferenceCode", "OtpCode", "GsmNumber", "ExceptionMessage"), key
        else:
            assert type(value) is type(sample), (key, value)
    return dict(got)


def assert_like_seed_xml(got_text):
    seed = ET.fromstring(SEED_XML_RESPONSE)
    got = ET.fromstring(got_text)
    assert got.tag == seed.tag == f"{{{RESP_NS}}}CreateTwoFactorSmsOtpResponse"
    assert [c.tag for c in got] == [c.tag for c in seed]
    values = {c.tag.split("}", 1)[1]: c for c in got}
    assert values["Code"].text in CODE_NAMES.values()
    assert values["Success"].text in ("true", "false")
    int(values["Id"].text)
    int(values["RemainingExpirationSeconds"].text)
    # The raw text declares the same prefixes as the seed's sample.
    assert got_text.startswith(SEED_XML_RESPONSE.split(">", 1)[0] + ">")
    return values


def test_seed_json_request_gets_a_seed_shaped_json_answer(otpd):
    three_services(otpd)
    r = post(otpd, CREATE, SEED_JSON_REQUEST.replace("sample string 2", TO), "application/json")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    got = assert_like_seed_json(r.text)
    assert got["Success"] is True and got["Code"] == 1000
    assert got["GsmNumber"] == TO and got["RemainingExpirationSeconds"] == 6
    assert got["OtpCode"] is None, "the bootstrap key has no reveal_code scope"
    body = otpd.outbox(TO)[0]["body"]
    assert body.startswith(f"Ref: {got['ReferenceCode']}\n") and "Three" in body

    v = post(otpd, VERIFY, json.dumps({"OtpIdReference": got["OtpIdReference"], "OtpCode": sms_code(otpd, TO)}), "text/json")
    assert v.headers["Content-Type"] == "text/json; charset=utf-8"
    assert [k for k, _ in ordered(v.text)] == ["Id", "OtpIdReference", "RemainingAttempts", "ExceptionMessage", "Success", "Code"]
    assert v.json()["Code"] == 1000 and v.json()["Id"] == got["Id"]


def test_seed_xml_request_gets_a_seed_shaped_xml_answer(otpd):
    three_services(otpd)
    r = post(otpd, CREATE, SEED_XML_REQUEST.replace("sample string 2", TO), "application/xml")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/xml; charset=utf-8"
    got = assert_like_seed_xml(r.text)
    assert got["Code"].text == "SuccessCode" and got["Success"].text == "true"
    assert got["OtpCode"].get(f"{{{XSI_NS}}}nil") == "true"
    assert got["ExceptionMessage"].get(f"{{{XSI_NS}}}nil") == "true"
    reference = got["OtpIdReference"].text

    verify = (
        f'<VerifyTwoFactorSmsOtpRequest xmlns="{REQ_NS}"><OtpCode>{sms_code(otpd, TO)}</OtpCode>'
        f"<OtpIdReference>{reference}</OtpIdReference></VerifyTwoFactorSmsOtpRequest>"
    )
    v = post(otpd, VERIFY, verify, "text/xml")
    assert v.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(v.text)
    assert root.tag == f"{{{RESP_NS}}}VerifyTwoFactorSmsOtpResponse"
    assert root.find(f"{{{RESP_NS}}}Code").text == "SuccessCode"


def test_accept_picks_the_format_and_codes_are_numbers_or_names(otpd):
    limited = json.dumps({"UserId": "3698b76f-a5c0-4b04-b579-bc084019fb95", "GsmNumber": TO, "MaxSMSCount": 1, "MaxSMSInterval": 60})
    first = post(otpd, CREATE, limited, "application/json", accept="application/xml")
    assert first.headers["Content-Type"].startswith("application/xml")
    assert assert_like_seed_xml(first.text)["Code"].text == "SuccessCode"
    again = post(otpd, CREATE, limited, "application/json")
    got = assert_like_seed_json(again.text)
    assert (got["Success"], got["Code"]) == (False, 4000)
    assert again.headers["Retry-After"] == "60"
    xml = post(otpd, CREATE, limited, "application/json", accept="text/xml")
    values = assert_like_seed_xml(xml.text)
    assert values["Code"].text == "MaxOtpRequestExceededCode"
    assert values["Success"].text == "false"


def test_reveal_code_keys_get_the_code(otpd):
    key = otpd.new_key(scopes="verify,reveal_code")
    body = json.dumps({"UserId": "3698b76f-a5c0-4b04-b579-bc084019fb95", "GsmNumber": TO, "IsSync": True})
    r = post(otpd, CREATE, body, "application/json", auth=(key["key_id"], key["secret"]))
    got = assert_like_seed_json(r.text)
    assert got["Code"] == 1000
    # IsSync: the provider has taken the SMS before the answer.
    assert got["OtpCode"] == sms_code(otpd, TO)


def test_xml_attacks_and_bad_input_are_validation_errors(otpd):
    good = SEED_XML_REQUEST.replace("sample string 2", TO)
    xxe = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + good.replace("sample string 7", "&xxe;")
    r = post(otpd, CREATE, xxe, "application/xml")
    assert r.status_code == 400
    values = assert_like_seed_xml(r.text)
    assert values["Code"].text == "ValidationErrorCode"
    assert "root:" not in r.text
    r = post(otpd, CREATE, json.dumps({"UserId": "nope", "GsmNumber": TO}), "application/json")
    assert r.status_code == 400
    got = assert_like_seed_json(r.text)
    assert got["Code"] == 2000 and got["ExceptionMessage"].startswith("UserId:")
    r = post(otpd, CREATE, "x", "text/plain")
    assert r.status_code == 415 and "Message" in r.json()
    r = requests.post(otpd.url(CREATE), data=good, headers={"Content-Type": "application/xml"}, timeout=10)
    assert r.status_code == 401
    assert ET.fromstring(r.text).find("Message").text == "Authorization has been denied for this request."


def test_no_code_secret_or_number_in_trace_logs(tmp_path):
    from conftest import Otpd

    server = Otpd(tmp_path / "data", env={"RUST_LOG": "trace"})
    try:
        # Ten-symbol letters-and-digits codes cannot turn up in timestamps by chance.
        server.service(name="Acme", code_length=10, alphabet="alphanumeric")
        key = server.new_key(scopes="verify,reveal_code")
        auth = (key["key_id"], key["secret"])
        body = json.dumps({"UserId": "3698b76f-a5c0-4b04-b579-bc084019fb95", "GsmNumber": TO, "IsSync": True})
        got = post(server, CREATE, body, "application/json", auth=auth).json()
        code = got["OtpCode"]
        assert len(code) == 10
        wrong = json.dumps({"OtpIdReference": got["OtpIdReference"], "OtpCode": "ZZZZ99ZZZZ"})
        assert post(server, VERIFY, wrong, "application/json", auth=auth).json()["Code"] == 4100
        right = json.dumps({"OtpIdReference": got["OtpIdReference"], "OtpCode": code})
        assert post(server, VERIFY, right, "application/json", auth=auth).json()["Code"] == 1000
    finally:
        server.stop()
    logs = "\n".join(server.stderr_lines)
    assert len(logs) > 1000, "trace logging was on"
    for secret in (code, "ZZZZ99ZZZZ", key["secret"], "4155552671"):
        assert secret not in logs, f"{secret!r} leaked into the logs"
