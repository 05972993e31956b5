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
    // A language of its own; a regional tag falls back to its language; others to English.
    let sms = |tag: &str| {
        let l = Locale::parse(tag, "locale").unwrap();
        render_sms(&MessageContext {
            brand: "Acme",
            code: "1",
            locale: &l,
            domain: None,
            custom: None,
        })
    };
    assert_eq!(sms("de"), "Ihr Acme Bestätigungscode lautet: 1");
    assert_eq!(sms("de-AT"), sms("de"));
    assert_eq!(sms("pt-BR"), "O seu código de verificação Acme é: 1");
    assert_eq!(sms("xx"), sms("en"));
    assert_eq!(sms("en-GB"), sms("en"));
    assert!(has_templates(&Locale::parse("ja-JP", "l").unwrap()));
    assert!(!has_templates(&Locale::parse("xx", "l").unwrap()));
}

/// Every language has every channel, with the placeholders where they belong, and a text of
/// its own (not a copy of English).
#[test]
fn every_language_has_all_its_templates() {
    let langs: Vec<Locale> = Locale::supported().collect();
    for want in [
        "en", "de", "fr", "es", "it", "nl", "pt", "tr", "pl", "sv", "ru", "ar", "zh", "ja",
    ] {
        assert!(langs.iter().any(|l| l.as_str() == want), "{want} missing");
    }
    let en_sms = render_sms(&ctx_for(&Locale::default()));
    for l in &langs {
        assert!(has_templates(l), "{}", l.as_str());
        let ctx = ctx_for(l);
        let sms = render_sms(&ctx);
        assert!(
            sms.contains("Brandname") && sms.contains("9876543210"),
            "{sms}"
        );
        if l.as_str() != "en" {
            assert_ne!(sms, en_sms, "{}", l.as_str());
        }
        let call = render_call(&ctx);
        assert_eq!(call.matches("9, 8, 7").count(), 2, "{}: {call}", l.as_str());
        let e = render_email(&ctx);
        assert!(e.subject.contains("Brandname"), "{}", l.as_str());
        assert!(
            !e.subject.contains("9876543210"),
            "no code in subjects (they show in lists)"
        );
        assert!(e.text.contains("9876543210") && e.html.contains("9876543210"));
        assert!(e.text.contains("Brandname") && e.html.contains("Brandname"));
        assert_eq!(e.html.contains("dir=\"rtl\""), l.as_str() == "ar");
    }
}

fn ctx_for(l: &Locale) -> MessageContext<'_> {
    MessageContext {
        brand: "Brandname",
        code: "9876543210",
        locale: l,
        domain: None,
        custom: None,
    }
}

proptest! {
    /// Every SMS template fits one segment with a 20-character brand (GSM-7 letters) and a
    /// 10-symbol code. With the origin-bound line of a typical host, every GSM-7 template still
    /// does; in UCS-2 languages that line may add a second segment (README says so).
    #[test]
    fn every_sms_template_fits_one_segment(
        brand in "[A-Za-z0-9 ]{20}",
        code in "[0-9A-Z]{10}",
        with_domain: bool,
    ) {
        for locale in Locale::supported() {
            let text = render_sms(&MessageContext {
                brand: &brand,
                code: &code,
                locale: &locale,
                domain: None,
                custom: None,
            });
            prop_assert!(segments::fits_one_segment(&text), "{} {}", locale.as_str(), text.chars().count());
            let plain_gsm = segments::is_gsm7(&text);
            if with_domain && plain_gsm {
                let text = render_sms(&MessageContext {
                    brand: &brand,
                    code: &code,
                    locale: &locale,
                    domain: Some("login.example.com"),
                    custom: None,
                });
                prop_assert!(segments::fits_one_segment(&text), "{} {}", locale.as_str(), text.len());
            }
        }
    }
}

/// The UCS-2 languages keep real headroom, not a character or two.
#[test]
fn ucs2_templates_leave_room() {
    for locale in Locale::supported() {
        let text = render_sms(&MessageContext {
            brand: &"B".repeat(20),
            code: &"7".repeat(10),
            locale: &locale,
            domain: None,
            custom: None,
        });
        let n = text.chars().count();
        if segments::is_gsm7(&text) {
            assert!(n <= 120, "{} {n}", locale.as_str());
        } else {
            assert!(n <= 66, "{} {n}", locale.as_str());
        }
    }
}
