//! Turning a code into a message: templates per channel and locale, the one-segment rule for
//! SMS, and the WebOTP / iOS origin-bound last line.

pub mod segments;
mod templates;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A BCP 47 language tag, normalised (`pt-BR`, `zh-Hans-CN`). Templates are chosen by falling
/// back from the whole tag to its language, then to English.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Locale(String);

impl Default for Locale {
    fn default() -> Self {
        Locale("en".into())
    }
}

impl TryFrom<String> for Locale {
    type Error = Error;
    fn try_from(s: String) -> Result<Locale> {
        Locale::parse(&s, "locale")
    }
}

impl From<Locale> for String {
    fn from(l: Locale) -> String {
        l.0
    }
}

impl Locale {
    pub fn parse(s: &str, field: &'static str) -> Result<Locale> {
        let bad = || Error::invalid(field, "must be a BCP 47 language tag such as en or pt-BR");
        let s = s.trim().replace('_', "-");
        let mut parts = s.split('-');
        let lang = parts.next().unwrap_or_default();
        if !(2..=3).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad());
        }
        let mut out = lang.to_ascii_lowercase();
        for p in parts {
            if p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad());
            }
            out.push('-');
            match p.len() {
                2 => out.push_str(&p.to_ascii_uppercase()),
                4 => {
                    let mut c = p.chars();
                    if let Some(f) = c.next() {
                        out.push(f.to_ascii_uppercase());
                    }
                    out.push_str(&c.as_str().to_ascii_lowercase());
                }
                _ => out.push_str(&p.to_ascii_lowercase()),
            }
        }
        Ok(Locale(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or("en")
    }

    /// Every locale with templates of its own.
    pub fn supported() -> impl Iterator<Item = Locale> {
        templates::LANGUAGES.iter().map(|l| Locale((*l).to_owned()))
    }
}

/// True when `locale` (its whole tag or its language) has templates of its own rather than
/// falling back to English.
pub fn has_templates(locale: &Locale) -> bool {
    templates::lookup(locale).is_some()
}

pub struct MessageContext<'a> {
    /// The service name as the user knows it.
    pub brand: &'a str,
    pub code: &'a str,
    pub locale: &'a Locale,
    /// Adds the origin-bound line `@domain #code` so browsers and iOS can autofill.
    pub domain: Option<&'a str>,
    /// The caller's own wording, replacing the template: the text is `<custom> <code>`
    /// exactly, as the dialects that allow it promise.
    pub custom: Option<&'a str>,
}

/// The SMS text. The origin-bound line, when present, is last and alone on its line.
pub fn render_sms(ctx: &MessageContext<'_>) -> String {
    if let Some(custom) = ctx.custom {
        return custom_text(custom, ctx.code);
    }
    let t = templates::for_locale(ctx.locale);
    let mut text = fill(t.sms, ctx.brand, ctx.code);
    if let Some(domain) = ctx.domain {
        text.push_str("\n\n@");
        text.push_str(domain);
        text.push_str(" #");
        text.push_str(ctx.code);
    }
    text
}

/// What a text-to-speech engine reads: each symbol separated so it is spoken one by one, twice.
pub fn render_call(ctx: &MessageContext<'_>) -> String {
    let spoken = spell_out(ctx.code);
    if let Some(custom) = ctx.custom {
        let once = custom_text(custom, &spoken);
        return format!("{once}. {once}.");
    }
    let t = templates::for_locale(ctx.locale);
    fill(t.call, ctx.brand, &spoken)
}

pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn render_email(ctx: &MessageContext<'_>) -> Email {
    let t = templates::for_locale(ctx.locale);
    let subject = fill(t.email_subject, ctx.brand, ctx.code);
    let dir = if t.rtl { " dir=\"rtl\"" } else { "" };
    if let Some(custom) = ctx.custom {
        let text = custom_text(custom, ctx.code);
        return Email {
            subject,
            html: format!(
                "<!doctype html><html{dir}><body><p>{}</p></body></html>",
                html_escape(&text)
            ),
            text,
        };
    }
    let intro = fill(t.email_intro, ctx.brand, ctx.code);
    Email {
        subject,
        text: format!("{intro} {}\n\n{}\n", ctx.code, t.email_footer),
        html: format!(
            "<!doctype html><html{dir}><body><p>{}</p><p style=\"font-size:24px;font-weight:bold;letter-spacing:4px\">{}</p><p>{}</p></body></html>",
            html_escape(&intro),
            html_escape(ctx.code),
            html_escape(t.email_footer)
        ),
    }
}

/// `<message> <code>`: the caller's text and the code, one space apart.
pub fn custom_text(message: &str, code: &str) -> String {
    format!("{message} {code}")
}

/// A message with a human reference (not the code) on a first line of its own, so the
/// origin-bound line stays last and the code stays the text's last word.
pub fn with_reference(reference: &str, text: &str) -> String {
    format!("Ref: {reference}\n{text}")
}

/// `12A4` -> `1, 2, A, 4`: commas make speech engines pause between symbols.
pub fn spell_out(code: &str) -> String {
    code.chars()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn fill(template: &str, brand: &str, code: &str) -> String {
    template.replace("{brand}", brand).replace("{code}", code)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
