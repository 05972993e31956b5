//! The wire side of the 001 dialect: content negotiation, reading a request body (JSON, XML
//! DataContract or form) into named raw values, typed field parsing with ASP.NET's binding
//! rules, and writing a response object as JSON (declared order) or XML (DataContract order).

use crate::soap::{self, ParseError, XSI_NS, write};
use axum::http::{HeaderMap, HeaderValue, header};
use otpd_core::Error;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

pub const REQUEST_NS: &str = "http://schemas.datacontract.org/2004/07/BusinessLayer.Dto.Request";
pub const RESPONSE_NS: &str = "http://schemas.datacontract.org/2004/07/BusinessLayer.Dto.Response";

/// A body format, with the media type it was named by (a response echoes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json(&'static str),
    Xml(&'static str),
}

impl Format {
    fn of_media(media: &str) -> Option<Format> {
        Some(match media {
            "application/json" => Format::Json("application/json"),
            "text/json" => Format::Json("text/json"),
            "application/xml" => Format::Xml("application/xml"),
            "text/xml" => Format::Xml("text/xml"),
            _ => return None,
        })
    }

    pub fn content_type(self) -> HeaderValue {
        let media = match self {
            Format::Json(m) | Format::Xml(m) => m,
        };
        HeaderValue::from_str(&format!("{media}; charset=utf-8"))
            .unwrap_or(HeaderValue::from_static("application/json; charset=utf-8"))
    }
}

pub const JSON: Format = Format::Json("application/json");

/// What a request body is, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json(Format),
    Xml(Format),
    Form,
}

fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub fn body_kind(headers: &HeaderMap) -> Option<BodyKind> {
    let media = media_type(headers.get(header::CONTENT_TYPE)?.to_str().ok()?);
    if media == "application/x-www-form-urlencoded" {
        return Some(BodyKind::Form);
    }
    match Format::of_media(&media)? {
        f @ Format::Json(_) => Some(BodyKind::Json(f)),
        f @ Format::Xml(_) => Some(BodyKind::Xml(f)),
    }
}

/// The response format: the best `Accept` match by quality (ties: the order given); with no
/// match, the request's own format; JSON for form requests, as ASP.NET's first formatter.
pub fn negotiate(headers: &HeaderMap, request: Option<BodyKind>) -> Format {
    let fallback = match request {
        Some(BodyKind::Json(f) | BodyKind::Xml(f)) => f,
        Some(BodyKind::Form) | None => JSON,
    };
    let Some(accept) = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .reduce(|a, b| format!("{a},{b}"))
    else {
        return fallback;
    };
    let mut best: Option<(u32, Format)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, v)| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        // Thousandths, so that ties compare exactly.
        let q = (q.clamp(0.0, 1.0) * 1000.0) as u32;
        let format = match media.as_str() {
            "*/*" | "application/*" | "text/*" => continue,
            m => match Format::of_media(m) {
                Some(f) => f,
                None => continue,
            },
        };
        if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, format));
        }
    }
    best.map(|(_, f)| f).unwrap_or(fallback)
}

/// A raw property value before typing: JSON keeps its types; XML and form values are text.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Json(Value),
    Text(String),
}

/// A request's properties, names matched without case (ASP.NET's binders do).
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, Raw)>);

impl Fields {
    /// Keeps only `known` names (in their documented spelling); a name given twice is refused.
    fn push(&mut self, known: &[&'static str], name: &str, value: Raw) -> Result<(), Error> {
        let Some(canonical) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) else {
            // Unknown properties are ignored, as ASP.NET's binders ignore them.
            return Ok(());
        };
        if self.0.iter().any(|(n, _)| n == canonical) {
            return Err(Error::invalid(*canonical, "is given more than once"));
        }
        self.0.push(((*canonical).to_owned(), value));
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&Raw> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .filter(|v| !matches!(v, Raw::Json(Value::Null)))
    }

    /// A string property: JSON strings (numbers as written); XML/form text. Blank is absent.
    pub fn string(&self, name: &'static str) -> Result<Option<String>, Error> {
        let s = match self.get(name) {
            None => return Ok(None),
            Some(Raw::Json(Value::String(s)) | Raw::Text(s)) => s.clone(),
            Some(Raw::Json(Value::Number(n))) => n.to_string(),
            Some(Raw::Json(_)) => return Err(Error::invalid(name, "must be a string")),
        };
        Ok(Some(s).filter(|s| !s.trim().is_empty()))
    }

    /// A 32-bit integer (.NET `int`): a JSON integer or a string of one; XML/form text.
    pub fn int(&self, name: &'static str) -> Result<Option<i32>, Error> {
        let bad = || Error::invalid(name, "must be an integer");
        let text = match self.get(name) {
            None => return Ok(None),
            Some(Raw::Json(Value::Number(n))) => n.to_string(),
            Some(Raw::Json(Value::String(s)) | Raw::Text(s)) => s.trim().to_owned(),
            Some(Raw::Json(_)) => return Err(bad()),
        };
        if text.is_empty() {
            return Ok(None);
        }
        let digits = text.strip_prefix(['+', '-']).unwrap_or(&text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        text.parse::<i32>()
            .map(Some)
            .map_err(|_| Error::invalid(name, "is outside the 32-bit integer range"))
    }

    /// A boolean: JSON `true`/`false` or their strings; XML `true`/`false`/`1`/`0`.
    pub fn bool(&self, name: &'static str) -> Result<Option<bool>, Error> {
        let text = match self.get(name) {
            None => return Ok(None),
            Some(Raw::Json(Value::Bool(b))) => return Ok(Some(*b)),
            Some(Raw::Json(Value::String(s))) => s.trim().to_ascii_lowercase(),
            Some(Raw::Text(s)) => s.trim().to_ascii_lowercase(),
            Some(Raw::Json(_)) => return Err(Error::invalid(name, "must be true or false")),
        };
        match text.as_str() {
            "" => Ok(None),
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(Error::invalid(name, "must be true or false")),
        }
    }
}

/// A JSON object's members in order, duplicates kept for `Fields::push` to refuse.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads a body into the properties named in `known`. `root` is the DataContract element an
/// XML body must be (in [`REQUEST_NS`]).
pub fn read_fields(
    kind: BodyKind,
    bytes: &[u8],
    root: &'static str,
    known: &[&'static str],
) -> Result<Fields, Error> {
    let mut fields = Fields::default();
    match kind {
        BodyKind::Json(_) => {
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(Error::invalid("body", "must be a JSON object"));
            }
            let Members(members) = serde_json::from_slice(bytes)
                .map_err(|e| Error::invalid("body", format!("is not valid JSON: {e}")))?;
            for (k, v) in members {
                fields.push(known, &k, Raw::Json(v))?;
            }
        }
        BodyKind::Form => {
            for (k, v) in form_urlencoded::parse(bytes) {
                fields.push(known, &k, Raw::Text(v.into_owned()))?;
            }
        }
        BodyKind::Xml(_) => {
            let doc =
                soap::parse_document(bytes).map_err(|e| Error::invalid("body", xml_refusal(&e)))?;
            if !doc.is(REQUEST_NS, root) {
                return Err(Error::invalid(
                    "body",
                    format!(
                        "expecting element '{root}' from namespace '{REQUEST_NS}', found '{}'",
                        doc.name
                    ),
                ));
            }
            for child in doc.children {
                // Elements of other namespaces are not the contract's: ignored, like unknown ones.
                if child.ns.as_deref() != Some(REQUEST_NS) {
                    continue;
                }
                if !child.children.is_empty() {
                    return Err(Error::invalid(
                        known
                            .iter()
                            .find(|k| **k == child.name)
                            .copied()
                            .unwrap_or("body"),
                        "must be a simple value",
                    ));
                }
                // DataContract names are case-sensitive; other spellings are unknown members.
                if known.contains(&child.name.as_str()) {
                    fields.push(known, &child.name, Raw::Text(child.text))?;
                }
            }
        }
    }
    Ok(fields)
}

fn xml_refusal(e: &ParseError) -> String {
    match e {
        ParseError::DoctypeRefused => "must not contain a Document Type Declaration".into(),
        ParseError::ProcessingInstructionRefused => {
            "must not contain processing instructions".into()
        }
        other => format!("is not acceptable XML: {other}"),
    }
}

/// A response property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Int(i64),
    Str(Option<String>),
    Bool(bool),
    /// An enum: its number in JSON, its name in XML.
    Enum(i64, &'static str),
}

/// A response object: its DataContract name and its properties in the JSON order.
pub struct Object {
    pub name: &'static str,
    pub fields: Vec<(&'static str, Out)>,
}

impl Object {
    pub fn to_json(&self) -> String {
        let members: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Out::Int(i) | Out::Enum(i, _) => Value::from(*i),
                    Out::Str(s) => s.clone().map(Value::String).unwrap_or(Value::Null),
                    Out::Bool(b) => Value::Bool(*b),
                };
                format!("{}:{}", Value::from(*k), v)
            })
            .collect();
        format!("{{{}}}", members.join(","))
    }

    /// DataContractSerializer's form: members in ordinal name order, nulls as `i:nil`.
    pub fn to_xml(&self) -> String {
        let mut fields: Vec<&(&'static str, Out)> = self.fields.iter().collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = format!(
            "<{} xmlns:i=\"{XSI_NS}\" xmlns=\"{RESPONSE_NS}\">",
            self.name
        );
        for (k, v) in fields {
            let text = match v {
                Out::Int(i) => i.to_string(),
                Out::Enum(_, name) => (*name).to_owned(),
                Out::Bool(b) => b.to_string(),
                Out::Str(Some(s)) => write::escape_text(s),
                Out::Str(None) => {
                    out.push_str(&format!("<{k} i:nil=\"true\"/>"));
                    continue;
                }
            };
            out.push_str(&format!("<{k}>{text}</{k}>"));
        }
        out.push_str(&format!("</{}>", self.name));
        out
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json(_) => self.to_json(),
            Format::Xml(_) => self.to_xml(),
        }
    }
}

/// ASP.NET Web API's `HttpError` (`{"Message": ...}` / `<Error><Message>`), for what happens
/// before the action runs: credentials, media type, body size.
pub fn http_error(format: Format, message: &str) -> String {
    match format {
        Format::Json(_) => serde_json::json!({ "Message": message }).to_string(),
        Format::Xml(_) => format!(
            "<Error><Message>{}</Message></Error>",
            write::escape_text(message)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn negotiation_follows_accept_then_the_request() {
        let json = Some(BodyKind::Json(JSON));
        let xml = Some(BodyKind::Xml(Format::Xml("text/xml")));
        assert_eq!(negotiate(&headers(&[]), json), JSON);
        assert_eq!(negotiate(&headers(&[]), xml), Format::Xml("text/xml"));
        assert_eq!(
            negotiate(&headers(&[("accept", "application/xml")]), json),
            Format::Xml("application/xml")
        );
        assert_eq!(
            negotiate(
                &headers(&[("accept", "application/xml;q=0.5, text/json;q=0.9")]),
                xml
            ),
            Format::Json("text/json")
        );
        assert_eq!(
            negotiate(&headers(&[("accept", "*/*")]), xml),
            Format::Xml("text/xml")
        );
        assert_eq!(negotiate(&headers(&[("accept", "text/html")]), json), JSON);
        assert_eq!(
            negotiate(&headers(&[("accept", "application/json;q=0")]), xml),
            Format::Xml("text/xml")
        );
        assert_eq!(negotiate(&headers(&[]), Some(BodyKind::Form)), JSON);
    }

    #[test]
    fn json_fields_bind_without_case_and_refuse_duplicates() {
        let known = &["UserId", "MaxSMSCount", "IsSync"];
        let f = read_fields(
            BodyKind::Json(JSON),
            br#"{"userid":"x","MAXSMSCOUNT":"4","IsSync":"true","Other":[1]}"#,
            "R",
            known,
        )
        .unwrap();
        assert_eq!(f.string("UserId").unwrap().as_deref(), Some("x"));
        assert_eq!(f.int("MaxSMSCount").unwrap(), Some(4));
        assert_eq!(f.bool("IsSync").unwrap(), Some(true));
        let dup = read_fields(
            BodyKind::Json(JSON),
            br#"{"UserId":"a","userId":"b"}"#,
            "R",
            known,
        );
        assert!(matches!(dup, Err(Error::Invalid { field, .. }) if field == "UserId"));
        let f = read_fields(BodyKind::Json(JSON), br#"{"MaxSMSCount":4.5}"#, "R", known).unwrap();
        assert!(f.int("MaxSMSCount").is_err());
        let f = read_fields(
            BodyKind::Json(JSON),
            br#"{"MaxSMSCount":4294967296}"#,
            "R",
            known,
        )
        .unwrap();
        assert!(f.int("MaxSMSCount").is_err());
        let f = read_fields(BodyKind::Json(JSON), br#"{"IsSync":1}"#, "R", known).unwrap();
        assert!(f.bool("IsSync").is_err());
    }

    #[test]
    fn xml_fields_need_the_contract_root_and_namespace() {
        let known = &["UserId", "IsSync"];
        let kind = BodyKind::Xml(Format::Xml("application/xml"));
        let ok = format!(
            "<R xmlns:i=\"{XSI_NS}\" xmlns=\"{REQUEST_NS}\"><IsSync>1</IsSync><UserId>u</UserId><userid>ignored</userid></R>"
        );
        let f = read_fields(kind, ok.as_bytes(), "R", known).unwrap();
        assert_eq!(f.bool("IsSync").unwrap(), Some(true));
        assert_eq!(f.string("UserId").unwrap().as_deref(), Some("u"));
        assert!(read_fields(kind, b"<R><UserId>u</UserId></R>", "R", known).is_err());
        let other = format!("<Q xmlns=\"{REQUEST_NS}\"/>");
        assert!(read_fields(kind, other.as_bytes(), "R", known).is_err());
        let dtd = format!("<!DOCTYPE R [<!ENTITY x \"y\">]><R xmlns=\"{REQUEST_NS}\"/>");
        assert!(read_fields(kind, dtd.as_bytes(), "R", known).is_err());
    }

    #[test]
    fn objects_write_json_in_order_and_xml_sorted() {
        let o = Object {
            name: "Resp",
            fields: vec![
                ("Id", Out::Int(1)),
                ("Note", Out::Str(None)),
                ("Code", Out::Enum(1000, "SuccessCode")),
                ("Text", Out::Str(Some("a<b".into()))),
            ],
        };
        assert_eq!(
            o.to_json(),
            r#"{"Id":1,"Note":null,"Code":1000,"Text":"a<b"}"#
        );
        assert_eq!(
            o.to_xml(),
            format!(
                "<Resp xmlns:i=\"{XSI_NS}\" xmlns=\"{RESPONSE_NS}\"><Code>SuccessCode</Code><Id>1</Id><Note i:nil=\"true\"/><Text>a&lt;b</Text></Resp>"
            )
        );
    }
}
