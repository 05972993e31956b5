//! Twilio's request bodies: `application/x-www-form-urlencoded`, parameter names in Twilio's
//! exact spelling (`To`, `Channel`, `CustomCode`...). Unknown parameters are ignored, as
//! Twilio does; a parameter given twice is refused, since either reading would be a guess.

use super::error::TwError;
use crate::body::{media_type_is, read_body};
use crate::error::ApiError;
use axum::extract::{FromRequest, Request};

#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(bytes: &[u8]) -> Result<Params, TwError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(bytes) {
            if out.iter().any(|(seen, _)| *seen == k) {
                return Err(TwError::invalid(&k, "must appear only once"));
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params(out))
    }

    /// The value of `name`, absent when not given or empty (the SDK never sends empty ones).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, TwError> {
        self.get(name).ok_or_else(|| TwError::missing(name))
    }

    /// Twilio's booleans: `true` / `false` (the SDK writes them so; case ignored).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, TwError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(TwError::invalid(name, "must be true or false")),
        }
    }

    /// An integer in `min..=max`.
    pub fn integer(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, TwError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(Some)
                .ok_or_else(|| {
                    TwError::invalid(name, format!("must be an integer from {min} to {max}"))
                }),
        }
    }

    /// Refuses parameters Twilio documents but otpd cannot honour: ignoring them would send
    /// something other than what the caller asked for.
    pub fn refuse(&self, names: &[&str]) -> Result<(), TwError> {
        match names.iter().find(|n| self.get(n).is_some()) {
            Some(n) => Err(TwError::invalid(n, "is not supported by otpd")),
            None => Ok(()),
        }
    }
}

/// A form body. An empty body needs no `Content-Type`; any other must be form-encoded.
pub struct TwForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for TwForm {
    type Rejection = TwError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let form = media_type_is(req.headers(), &["application/x-www-form-urlencoded"]);
        let bytes = read_body(req).await.map_err(|e| match e {
            ApiError::PayloadTooLarge => TwError::payload_too_large(),
            _ => TwError::invalid("body", "could not be read"),
        })?;
        if bytes.is_empty() {
            return Ok(TwForm(Params::default()));
        }
        if !form {
            return Err(TwError::unsupported_media_type());
        }
        Params::parse(&bytes).map(TwForm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_twilio_forms() {
        let p = Params::parse(b"To=%2B14155552671&Channel=sms&Flag=TRUE&Len=6&Empty=").unwrap();
        assert_eq!(p.get("To"), Some("+14155552671"));
        assert_eq!(p.get("to"), None);
        assert_eq!(p.get("Empty"), None);
        assert_eq!(p.boolean("Flag").unwrap(), Some(true));
        assert_eq!(p.integer("Len", 4, 10).unwrap(), Some(6));
        assert_eq!(p.integer("Len", 7, 10).unwrap_err().code, 60200);
        assert_eq!(p.required("Code").unwrap_err().code, 20001);
        assert_eq!(p.refuse(&["Amount", "Channel"]).unwrap_err().code, 60200);
        let dup = Params::parse(b"To=1&To=2").unwrap_err();
        assert_eq!(dup.message, "Invalid parameter `To`: must appear only once");
    }
}
