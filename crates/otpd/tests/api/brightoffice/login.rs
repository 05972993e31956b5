//! Request and confirm: codes, channels, parameters, temporary passwords.

use super::*;
use crate::helpers::spawn_app;

#[tokio::test]
async fn request_then_confirm_over_both_versions() {
    for v in BOTH {
        let app = spawn_app().await;
        customer(&app, Some(PHONE), PASSWORD, false).await;
        let r = call(
            &app,
            v,
            "RequestCustomerUserMFA",
            &[("Email", EMAIL), ("Password", PASSWORD)],
        )
        .await;
        assert_eq!(r.code, "SUCCESS", "{}", r.raw);
        assert!(r.message.contains("+31*******78"), "{}", r.message);
        assert!(r.raw.contains("<IsSystemError>false</IsSystemError>"));
        let code = code_for(&app, PHONE).await;
        let confirm = |c: &'static str| [("Email", EMAIL), ("Password", PASSWORD), ("MFACode", c)];
        let r = call(&app, v, "ConfirmCustomerUserMFA", &confirm(wrong(&code))).await;
        assert_eq!(r.code, "OTHER", "{}", r.raw);
        let code: &'static str = Box::leak(code.into_boxed_str());
        // By Id this time; either names the customer.
        let r = call(
            &app,
            v,
            "ConfirmCustomerUserMFA",
            &[("Id", ID), ("Password", PASSWORD), ("MFACode", code)],
        )
        .await;
        assert_eq!(r.code, "SUCCESS", "{}", r.raw);
        // Used: nothing is waiting any more.
        let r = call(&app, v, "ConfirmCustomerUserMFA", &confirm(code)).await;
        assert_eq!(r.code, "MISSINGRECORD", "{}", r.raw);
    }
}

#[tokio::test]
async fn customers_without_a_phone_get_the_code_by_email_and_exhausted_codes_are_other() {
    let app = spawn_app().await;
    customer(&app, None, PASSWORD, false).await;
    let r = call(
        &app,
        V::S12,
        "RequestCustomerUserMFA",
        &[("Id", ID), ("Password", PASSWORD)],
    )
    .await;
    assert_eq!(r.code, "SUCCESS");
    assert!(r.message.contains("j***@example.com"), "{}", r.message);
    let code = code_for(&app, EMAIL).await;
    for _ in 0..5 {
        let r = call(
            &app,
            V::S12,
            "ConfirmCustomerUserMFA",
            &[
                ("Id", ID),
                ("Password", PASSWORD),
                ("MFACode", wrong(&code)),
            ],
        )
        .await;
        assert_eq!(r.code, "OTHER");
    }
    // Attempts used up: even the right code is OTHER now.
    let r = call(
        &app,
        V::S12,
        "ConfirmCustomerUserMFA",
        &[("Id", ID), ("Password", PASSWORD), ("MFACode", &code)],
    )
    .await;
    assert_eq!(r.code, "OTHER", "{}", r.raw);
    // Expired is OTHER too.
    call(
        &app,
        V::S12,
        "RequestCustomerUserMFA",
        &[("Id", ID), ("Password", PASSWORD)],
    )
    .await;
    let code = code_for(&app, EMAIL).await;
    app.clock.advance_secs(601);
    let r = call(
        &app,
        V::S12,
        "ConfirmCustomerUserMFA",
        &[("Id", ID), ("Password", PASSWORD), ("MFACode", &code)],
    )
    .await;
    assert_eq!(r.code, "OTHER", "{}", r.raw);
}

#[tokio::test]
async fn missing_or_invalid_fields_are_parametererror_and_send_nothing() {
    let app = spawn_app().await;
    customer(&app, Some(PHONE), PASSWORD, false).await;
    let before = app.row_counts();
    for (op, c, field) in [
        ("RequestCustomerUserMFA", vec![("Password", PASSWORD)], "Id"),
        (
            "RequestCustomerUserMFA",
            vec![("Id", "not-a-guid"), ("Password", PASSWORD)],
            "Id",
        ),
        (
            "RequestCustomerUserMFA",
            vec![("Email", "jane"), ("Password", PASSWORD)],
            "Email",
        ),
        ("RequestCustomerUserMFA", vec![("Email", EMAIL)], "Password"),
        (
            "ConfirmCustomerUserMFA",
            vec![("Email", EMAIL), ("Password", PASSWORD)],
            "MFACode",
        ),
        (
            "ConfirmCustomerUserMFA",
            vec![
                ("Email", EMAIL),
                ("Password", PASSWORD),
                ("MFACode", "12 34"),
            ],
            "MFACode",
        ),
        (
            "ConfirmCustomerUserMFA",
            vec![
                ("Id", "00000000-0000-0000-0000-000000000000"),
                ("Password", PASSWORD),
                ("MFACode", "1234"),
            ],
            "Id",
        ),
    ] {
        for v in BOTH {
            let r = call(&app, v, op, &c).await;
            assert_eq!(r.code, "PARAMETERERROR", "{c:?}: {}", r.raw);
            assert!(
                r.message.starts_with(&format!("{field}: ")),
                "{c:?}: {}",
                r.message
            );
        }
    }
    assert_eq!(app.row_counts(), before);
    // Authenticated, no code requested: MISSINGRECORD.
    let r = call(
        &app,
        V::S11,
        "ConfirmCustomerUserMFA",
        &[
            ("Email", EMAIL),
            ("Password", PASSWORD),
            ("MFACode", "123456"),
        ],
    )
    .await;
    assert_eq!(r.code, "MISSINGRECORD", "{}", r.raw);
}

#[tokio::test]
async fn a_temporary_password_is_replaced_at_the_confirmed_login() {
    let app = spawn_app().await;
    let temp = "temporary pass 1";
    customer(&app, Some(PHONE), temp, true).await;
    let r = call(
        &app,
        V::S11,
        "RequestCustomerUserMFA",
        &[("Email", EMAIL), ("TemporaryPassword", temp)],
    )
    .await;
    assert_eq!(r.code, "SUCCESS", "{}", r.raw);
    let code = code_for(&app, PHONE).await;
    let with_new = |new: &'static str, c: &str| {
        let c: &'static str = Box::leak(c.to_owned().into_boxed_str());
        vec![
            ("Email", EMAIL),
            ("TemporaryPassword", temp),
            ("MFACode", c),
            ("NewPassword", new),
        ]
    };
    for (new, why) in [
        ("", "required"),
        ("too short", "12"),
        ("temporary pass 1", "current"),
        ("JANE.DOE@example.com", "e-mail"),
    ] {
        let mut c = with_new(new, &code);
        if new.is_empty() {
            c.pop();
        }
        let r = call(&app, V::S11, "ConfirmCustomerUserMFA", &c).await;
        assert_eq!(r.code, "PARAMETERERROR", "{new}: {}", r.raw);
        assert!(
            r.message.starts_with("NewPassword: ") && r.message.contains(why),
            "{}",
            r.message
        );
    }
    // A wrong code changes nothing.
    let r = call(
        &app,
        V::S12,
        "ConfirmCustomerUserMFA",
        &with_new("my new password", wrong(&code)),
    )
    .await;
    assert_eq!(r.code, "OTHER");
    let r = call(
        &app,
        V::S12,
        "ConfirmCustomerUserMFA",
        &with_new("my new password", &code),
    )
    .await;
    assert_eq!(r.code, "SUCCESS", "{}", r.raw);
    assert!(r.message.contains("new password"));
    // The temporary one is gone; the new one works and needs no replacing.
    let r = call(
        &app,
        V::S11,
        "RequestCustomerUserMFA",
        &[("Email", EMAIL), ("Password", temp)],
    )
    .await;
    assert_eq!(r.code, "LOGINERROR");
    let r = call(
        &app,
        V::S11,
        "RequestCustomerUserMFA",
        &[("Email", EMAIL), ("Password", "my new password")],
    )
    .await;
    assert_eq!(r.code, "SUCCESS");
    let code = code_for(&app, PHONE).await;
    let r = call(
        &app,
        V::S11,
        "ConfirmCustomerUserMFA",
        &[
            ("Email", EMAIL),
            ("Password", "my new password"),
            ("MFACode", &code),
        ],
    )
    .await;
    assert_eq!(r.code, "SUCCESS", "{}", r.raw);
}
