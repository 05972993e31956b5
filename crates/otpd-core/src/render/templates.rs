//! Message templates, one set per language. `{brand}` and `{code}` are filled in; SMS
//! templates must keep a 20-character brand and a 20-symbol code inside one segment.
//! Adding a language = adding one `Templates` value and its tag to `LANGUAGES`.

use super::Locale;

pub(super) struct Templates {
    pub sms: &'static str,
    pub call: &'static str,
    pub email_subject: &'static str,
    pub email_text: &'static str,
    pub email_html: &'static str,
}

pub(super) const LANGUAGES: &[&str] = &["en"];

const EN: Templates = Templates {
    sms: "Your {brand} verification code is: {code}",
    call: "Your {brand} verification code is: {code}. Again, your code is: {code}.",
    email_subject: "Your {brand} verification code",
    email_text: "Your {brand} verification code is: {code}\n\nIt expires soon. If you did not ask for it, you can ignore this e-mail.\n",
    email_html: "<!doctype html><html><body><p>Your {brand} verification code is:</p><p style=\"font-size:24px;font-weight:bold;letter-spacing:4px\">{code}</p><p>It expires soon. If you did not ask for it, you can ignore this e-mail.</p></body></html>",
};

/// The templates of the whole tag, else of its language; `None` when neither has any.
pub(super) fn lookup(locale: &Locale) -> Option<&'static Templates> {
    let by_tag = |tag: &str| match tag {
        "en" => Some(&EN),
        _ => None,
    };
    by_tag(locale.as_str()).or_else(|| by_tag(locale.language()))
}

/// Fallback chain: full tag, then language, then English.
pub(super) fn for_locale(locale: &Locale) -> &'static Templates {
    lookup(locale).unwrap_or(&EN)
}
