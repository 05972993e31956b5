use super::*;
use proptest::prelude::*;

fn en() -> Locale {
    Locale::default()
}

#[test]
fn sms_is_the_template_with_brand_and_code() {
    let l = en();
    let text = render_sms(&MessageContext {
        brand: "Acme",
        code: "123456",
        locale: &l,
        domain: None,
        custom: None,
    });
    assert_eq!(text, "Your Acme verification code is: 123456");
}

/// WICG origin-bound one-time codes: the last line is `@host #code`, nothing before `@`.
#[test]
fn origin_bound_line_is_last_and_parses_back() {
    let l = en();
    let text = render_sms(&MessageContext {
        brand: "Acme",
        code: "482913",
        locale: &l,
        domain: Some("login.example.com"),
        custom: None,
    });
    let last = text.lines().last().unwrap();
    assert_eq!(last, "@login.example.com #482913");
    let (host, code) = parse_origin_bound(last).unwrap();
    assert_eq!((host, code), ("login.example.com", "482913"));
    // The spec's negatives: something before @, two spaces, missing #.
    assert!(parse_origin_bound("x @a.com #1").is_none());
    assert!(parse_origin_bound("@a.com  #1").is_none());
    assert!(parse_origin_bound("@a.com 1").is_none());
}

fn parse_origin_bound(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('@')?;
    let (host, rest) = rest.split_once(' ')?;
    let code = rest.strip_prefix('#')?;
    let code = code.split(' ').next()?;
    (!host.is_empty() && !code.is_empty()).then_some((host, code))
}

#[test]
fn call_script_spells_the_code_twice() {
    let l = en();
    let text = render_call(&MessageContext {
        brand: "Acme",
        code: "1207",
        locale: &l,
        domain: None,
        custom: None,
    });
    assert_eq!(text.matches("1, 2, 0, 7").count(), 2);
}

#[test]
fn email_html_escapes_the_brand() {
    let l = en();
    let e = render_email(&MessageContext {
        brand: "A&B <x>",
        code: "1234",
        locale: &l,
        domain: None,
        custom: None,
    });
    assert!(e.html.contains("A&amp;B &lt;x&gt;"));
    assert!(e.text.contains("A&B <x>"));
    assert_eq!(e.subject, "Your A&B <x> verification code");
}

#[test]
fn locales_normalise_and_fall_back() {
    assert_eq!(Locale::parse("pt_br", "locale").unwrap().as_str(), "pt-BR");
    assert_eq!(
        Locale::parse("zh-hans-cn", "locale").unwrap().as_str(),
        "zh-Hans-CN"
    );
    assert_eq!(Locale::parse("pt-BR", "locale").unwrap().language(), "pt");
    assert!(Locale::parse("english!", "locale").is_err());
    assert!(Locale::parse("", "locale").is_err());
    // No template of its own yet: English.
    let de = Locale::parse("de", "locale").unwrap();
    let text = render_sms(&MessageContext {
        brand: "Acme",
        code: "1",
        locale: &de,
        domain: None,
        custom: None,
    });
    assert!(text.starts_with("Your Acme"));
}

proptest! {
    /// Every SMS template fits one segment with a 20-character brand (GSM-7 letters) and a
    /// 20-symbol code, with and without an origin-bound line of a typical host.
    #[test]
    fn every_sms_template_fits_one_segment(
        brand in "[A-Za-z0-9 ]{20}",
        code in "[0-9A-Z]{4,20}",
        with_domain: bool,
    ) {
        for locale in Locale::supported() {
            let text = render_sms(&MessageContext {
                brand: &brand,
                code: &code,
                locale: &locale,
                domain: with_domain.then_some("example.com"), custom: None,
            });
            prop_assert!(segments::fits_one_segment(&text), "{} {}", locale.as_str(), text.len());
        }
    }
}
