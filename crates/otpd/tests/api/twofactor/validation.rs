//! Every validation rule of the 001 dialect, XML hardening, and the one-segment rule with
//! the reference line: each refusal names its property and writes nothing.

use super::*;

#[tokio::test]
async fn every_validation_rule_names_its_property_and_writes_nothing() {
    let app = spawn_app().await;
    // The first service exists, so refusals write nothing at all.
    app.service(json!({})).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"GsmNumber": TO}), "UserId"),
        (body(json!({"UserId": "not-a-guid"})), "UserId"),
        (
            body(json!({"UserId": "00000000-0000-0000-0000-000000000000"})),
            "UserId",
        ),
        (body(json!({"UserId": 5})), "UserId"),
        (json!({"UserId": USER}), "GsmNumber"),
        (body(json!({"GsmNumber": "04155552671"})), "GsmNumber"),
        (body(json!({"GsmNumber": "+1 415 CALL ME"})), "GsmNumber"),
        (body(json!({"GsmNumber": true})), "GsmNumber"),
        (
            body(json!({"TwoFactorConfigurationId": -1})),
            "TwoFactorConfigurationId",
        ),
        (
            body(json!({"TwoFactorConfigurationId": 9})),
            "TwoFactorConfigurationId",
        ),
        (
            body(json!({"TwoFactorConfigurationId": "three"})),
            "TwoFactorConfigurationId",
        ),
        (
            body(json!({"TwoFactorConfigurationId": 2147483648i64})),
            "TwoFactorConfigurationId",
        ),
        (
            body(json!({"MaxSMSCount": -1, "MaxSMSInterval": 60})),
            "MaxSMSCount",
        ),
        (
            body(json!({"MaxSMSCount": 1.5, "MaxSMSInterval": 60})),
            "MaxSMSCount",
        ),
        (
            body(json!({"MaxSMSCount": 10001, "MaxSMSInterval": 60})),
            "MaxSMSCount",
        ),
        (body(json!({"MaxSMSCount": 3})), "MaxSMSInterval"),
        (body(json!({"MaxSMSInterval": 60})), "MaxSMSCount"),
        (
            body(json!({"MaxSMSCount": 3, "MaxSMSInterval": -5})),
            "MaxSMSInterval",
        ),
        (
            body(json!({"MaxSMSCount": 3, "MaxSMSInterval": 86401})),
            "MaxSMSInterval",
        ),
        (
            body(json!({"OtpExpirationPeriod": -6})),
            "OtpExpirationPeriod",
        ),
        (
            body(json!({"OtpExpirationPeriod": 604801})),
            "OtpExpirationPeriod",
        ),
        (body(json!({"IsSync": "maybe"})), "IsSync"),
        (body(json!({"IsSync": 1})), "IsSync"),
        (body(json!({"Source": "x".repeat(257)})), "Source"),
        (body(json!({"Source": "a\u{0007}b"})), "Source"),
        (body(json!({"Source": {"nested": 1}})), "Source"),
    ];
    for (b, field) in cases {
        assert_invalid(&app, b, field).await;
    }
    // A property given twice, in any case, and bodies that are not one JSON object.
    for raw in [
        format!(r#"{{"UserId":"{USER}","userid":"{USER}","GsmNumber":"{TO}"}}"#),
        "[1,2]".to_owned(),
        "{\"UserId\": ".to_owned(),
        "not json".to_owned(),
    ] {
        let before = app.row_counts();
        let (s, _, text) = post_raw(
            &app,
            Some(&app.admin),
            CREATE,
            "application/json",
            None,
            raw.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{raw}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Code"], 2000, "{raw}");
        assert_eq!(app.row_counts(), before);
    }
}

#[tokio::test]
async fn xml_is_hardened_and_bound_to_the_contract() {
    let app = spawn_app().await;
    app.service(json!({})).await;
    let good = SEED_XML.replace("sample string 2", TO);
    let cases = [
        // Wrong root element, wrong or missing namespace.
        good.replace("<CreateTwoFactorSmsOtpRequest ", "<CreateRequest ")
            .replace("</CreateTwoFactorSmsOtpRequest>", "</CreateRequest>"),
        good.replace(REQ_NS, "http://example.com/other"),
        good.replace(&format!(" xmlns=\"{REQ_NS}\""), ""),
        // DTDs, external and internal entities, parameter entities.
        format!("<!DOCTYPE x SYSTEM \"file:///etc/passwd\">{good}"),
        format!(
            "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"http://127.0.0.1:1/canary\">]>{}",
            good.replace("sample string 7", "&xxe;")
        ),
        format!("<!DOCTYPE x [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x.dtd\"> %p;]>{good}"),
        good.replace("sample string 7", "&undefined;"),
        // Billion laughs, malformed, too deep, processing instructions, not UTF-8.
        format!(
            "<!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>{}",
            good.replace("sample string 7", "&b;")
        ),
        good.replace("</UserId>", ""),
        good.replace(
            "<Source>sample string 7</Source>",
            &format!(
                "<Source>{}x{}</Source>",
                "<a>".repeat(100),
                "</a>".repeat(100)
            ),
        ),
        good.replace("<GsmNumber>", "<?evil x?><GsmNumber>"),
        // A property given twice.
        good.replace(
            "<IsSync>true</IsSync>",
            "<IsSync>true</IsSync><IsSync>false</IsSync>",
        ),
    ];
    for xml in cases {
        let before = app.row_counts();
        let (s, ct, text) = post_raw(
            &app,
            Some(&app.admin),
            CREATE,
            "application/xml",
            None,
            xml.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{xml} -> {text}");
        assert!(ct.starts_with("application/xml"));
        assert!(text.contains("<Code>ValidationErrorCode</Code>"), "{text}");
        assert!(!text.contains("root:"), "no file content leaks");
        assert_eq!(app.row_counts(), before, "{xml}");
    }
    let (s, _, text) = post_raw(
        &app,
        Some(&app.admin),
        CREATE,
        "application/xml",
        None,
        vec![0xffu8, 0xfe, b'<'],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");
    // Values the contract types refuse name their element.
    let bad_int = good.replace(
        "<MaxSMSCount>4</MaxSMSCount>",
        "<MaxSMSCount>four</MaxSMSCount>",
    );
    let (_, _, text) = post_raw(
        &app,
        Some(&app.admin),
        CREATE,
        "application/xml",
        None,
        bad_int,
    )
    .await;
    assert!(
        text.contains("<ExceptionMessage>MaxSMSCount: must be an integer</ExceptionMessage>"),
        "{text}"
    );
}

#[tokio::test]
async fn the_reference_line_never_pushes_the_sms_past_one_segment() {
    let app = spawn_app().await;
    // The longest name and domain a service with 20-symbol codes accepts (every locale's SMS
    // must fit one segment): its SMS fills one segment without a reference line.
    let mut found = false;
    'search: for name_len in (1..=30).rev() {
        for len in (10..=120).rev() {
            let domain = format!("{}.com", "d".repeat(len - 4));
            let r = app
                .post(
                    "/v1/services",
                    json!({"name": "N".repeat(name_len), "code_length": 20, "domain": domain}),
                )
                .await;
            if r.status() == StatusCode::CREATED {
                found = true;
                break 'search;
            }
        }
    }
    assert!(found);
    let before = app.row_counts();
    let (s, v) = create(&app, body(json!({"TwoFactorConfigurationId": 1}))).await;
    if v["Code"] == 2000 {
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let msg = v["ExceptionMessage"].as_str().unwrap();
        assert!(msg.starts_with("TwoFactorConfigurationId:"), "{msg}");
        assert_eq!(app.row_counts(), before);
    } else {
        // Templates in other languages may leave room in English: then it must fit.
        assert_eq!(v["Code"], 1000, "{v}");
        assert!(last_sms(&app, TO).await.chars().count() <= 160);
    }
}
