//! Parsing a SOAP envelope into a small tree, safely.
//!
//! SOAP forbids document type declarations, so any `<!DOCTYPE` is refused at once: no DTD, no
//! entity declaration, no external entity can ever be read, and billion-laughs payloads stop
//! at their first event. References to anything but the five predefined entities and character
//! references are refused; processing instructions are refused. Depth, element count and name
//! length are capped; the body size is capped by the router (64 KiB) before parsing starts.

use super::SoapVersion;
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// Deepest element nesting accepted (the envelope counts as 1).
pub const MAX_DEPTH: usize = 32;
/// Most elements in one message.
pub const MAX_ELEMENTS: usize = 2_000;
/// Longest element name (prefix included).
pub const MAX_NAME_LEN: usize = 256;

/// An element: namespace, local name, its text (character data directly inside it) and its
/// child elements. Attributes are not kept, except whether a header must be understood.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
    /// `mustUnderstand="1"` / `"true"` on the element (meaningful on header entries).
    pub must_understand: bool,
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.name == name
    }

    /// The first child named `name` in namespace `ns`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// The text of the first child named `name` in no namespace (SOAP 1.1 fault parts).
    pub fn child_text_unqualified(&self, name: &str) -> Option<&str> {
        self.children
            .iter()
            .find(|c| c.ns.is_none() && c.name == name)
            .map(|c| c.text.as_str())
    }

    /// The text of the first child named `name` in namespace `ns`.
    pub fn child_text(&self, ns: &str, name: &str) -> Option<&str> {
        self.child(ns, name).map(|c| c.text.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: SoapVersion,
    /// The entries of `Header`, in order (empty without a `Header`).
    pub headers: Vec<Element>,
    /// The entries of `Body`, in order; the first is the operation of a request.
    pub body: Vec<Element>,
}

impl Envelope {
    pub fn header(&self, ns: &str, name: &str) -> Option<&Element> {
        self.headers.iter().find(|h| h.is(ns, name))
    }

    /// The body's first element: the operation a request calls.
    pub fn operation(&self) -> Option<&Element> {
        self.body.first()
    }
}

/// Why a message was refused. All of these are the sender's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("a SOAP message must not contain a Document Type Declaration")]
    DoctypeRefused,
    #[error("entity references other than the predefined XML entities are not allowed")]
    EntityRefused,
    #[error("a SOAP message must not contain processing instructions")]
    ProcessingInstructionRefused,
    #[error("the message is nested deeper than {MAX_DEPTH} elements")]
    TooDeep,
    #[error("the message has more than {MAX_ELEMENTS} elements or overlong names")]
    TooLarge,
    #[error("the message is not UTF-8")]
    NotUtf8,
    #[error("the message is not well-formed XML: {0}")]
    Malformed(String),
    /// The root is not a SOAP envelope of a version we speak (SOAP's `VersionMismatch`).
    #[error("the root element is not a SOAP 1.1 or SOAP 1.2 Envelope")]
    NotAnEnvelope,
    #[error("the SOAP Envelope has no Body")]
    MissingBody,
    #[error("the SOAP Envelope has unexpected content: {0}")]
    BadStructure(&'static str),
}

/// Parses a SOAP 1.1 or 1.2 envelope.
pub fn parse(bytes: &[u8]) -> Result<Envelope, ParseError> {
    let xml = std::str::from_utf8(bytes).map_err(|_| ParseError::NotUtf8)?;
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let root = parse_tree(xml)?;
    into_envelope(root)
}

/// Parses a plain XML document (no SOAP envelope, e.g. a DataContract body) into its root
/// element, with the same refusals and caps as envelopes.
pub fn parse_document(bytes: &[u8]) -> Result<Element, ParseError> {
    let xml = std::str::from_utf8(bytes).map_err(|_| ParseError::NotUtf8)?;
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    parse_tree(xml)
}

fn malformed(e: impl std::fmt::Display) -> ParseError {
    ParseError::Malformed(e.to_string())
}

/// Reads the whole document into one root element, refusing what SOAP forbids.
fn parse_tree(xml: &str) -> Result<Element, ParseError> {
    let mut reader = NsReader::from_str(xml);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = match resolved {
            ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).into_owned()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => {
                return Err(ParseError::Malformed(format!(
                    "undeclared namespace prefix {:?}",
                    String::from_utf8_lossy(&prefix)
                )));
            }
        };
        match event {
            Event::DocType(_) => return Err(ParseError::DoctypeRefused),
            Event::PI(_) => return Err(ParseError::ProcessingInstructionRefused),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(ParseError::Malformed(
                        "content after the root element".into(),
                    ));
                }
                count += 1;
                if start.name().as_ref().len() > MAX_NAME_LEN || count > MAX_ELEMENTS {
                    return Err(ParseError::TooLarge);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::TooDeep);
                }
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let mut must_understand = false;
                for attr in start.attributes() {
                    let attr = attr.map_err(malformed)?;
                    if attr.key.local_name().as_ref() == b"mustUnderstand" {
                        let v = attr.value.as_ref();
                        must_understand = v == b"1" || v == b"true";
                    }
                }
                let element = Element {
                    ns,
                    name,
                    must_understand,
                    ..Element::default()
                };
                if matches!(event, Event::Empty(_)) {
                    close(element, &mut stack, &mut root);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => match stack.pop() {
                Some(element) => close(element, &mut stack, &mut root),
                None => return Err(ParseError::Malformed("unexpected end tag".into())),
            },
            Event::Text(text) => {
                let content = text.xml10_content().map_err(malformed)?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => {
                        return Err(ParseError::Malformed(
                            "text outside the root element".into(),
                        ));
                    }
                }
            }
            Event::CData(data) => {
                let content = data.xml10_content().map_err(malformed)?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None => {
                        return Err(ParseError::Malformed(
                            "CDATA outside the root element".into(),
                        ));
                    }
                }
            }
            Event::GeneralRef(reference) => {
                let ch = match reference.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c,
                    None => match reference.decode().map_err(malformed)?.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return Err(ParseError::EntityRefused),
                    },
                };
                match stack.last_mut() {
                    Some(top) => top.text.push(ch),
                    None => {
                        return Err(ParseError::Malformed(
                            "a reference outside the root element".into(),
                        ));
                    }
                }
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(ParseError::Malformed(
            "the document ends inside an element".into(),
        ));
    }
    root.ok_or_else(|| ParseError::Malformed("no root element".into()))
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn into_envelope(root: Element) -> Result<Envelope, ParseError> {
    let version = match (&root.ns, root.name.as_str()) {
        (Some(ns), "Envelope") => SoapVersion::from_namespace(ns),
        _ => None,
    }
    .ok_or(ParseError::NotAnEnvelope)?;
    let ns = version.namespace();
    if !root.text.trim().is_empty() {
        return Err(ParseError::BadStructure("text directly inside Envelope"));
    }
    let mut headers = Vec::new();
    let mut body = None;
    for (i, child) in root.children.into_iter().enumerate() {
        if child.is(ns, "Header") && i == 0 {
            headers = child.children;
        } else if child.is(ns, "Body") && body.is_none() {
            body = Some(child.children);
        } else if version == SoapVersion::V12 || child.is(ns, "Header") || child.is(ns, "Body") {
            // SOAP 1.2 allows nothing after Body; neither version allows a second Header/Body.
            return Err(ParseError::BadStructure(
                "Envelope must hold an optional Header, then one Body",
            ));
        }
        // SOAP 1.1 tolerates other namespace-qualified elements after the Body.
    }
    Ok(Envelope {
        version,
        headers,
        body: body.ok_or(ParseError::MissingBody)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const SEED_REQUEST: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope 
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
xmlns:xsd="http://www.w3.org/2001/XMLSchema"
xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"> <soap:Header> <ApiAuthentication xmlns="http://api.exigo.com/"> <LoginName>string</LoginName> <Password>string</Password> <Company>string</Company> <Identity>string</Identity> <RequestTimeUtc>dateTime</RequestTimeUtc> <Signature>string</Signature> </ApiAuthentication> </soap:Header> <soap:Body> <SendAuthorizationMFACodeRequest xmlns="http://api.exigo.com/"> <ToNumber>string</ToNumber> <Message>string</Message> <Code>string</Code> </SendAuthorizationMFACodeRequest> </soap:Body> </soap:Envelope>"#;

    const EXIGO: &str = "http://api.exigo.com/";

    #[test]
    fn parses_the_seed_request() {
        let env = parse(SEED_REQUEST.as_bytes()).unwrap();
        assert_eq!(env.version, SoapVersion::V11);
        let auth = env.header(EXIGO, "ApiAuthentication").unwrap();
        assert_eq!(auth.child_text(EXIGO, "LoginName"), Some("string"));
        assert_eq!(auth.child_text(EXIGO, "Company"), Some("string"));
        let op = env.operation().unwrap();
        assert!(op.is(EXIGO, "SendAuthorizationMFACodeRequest"));
        assert_eq!(op.children.len(), 3);
        assert_eq!(op.child_text(EXIGO, "Code"), Some("string"));
        // Unqualified children are not the namespace's.
        assert_eq!(op.child_text("", "Code"), None);
    }

    #[test]
    fn parses_soap12_prefixes_references_and_cdata() {
        let xml = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><x:Op xmlns:x="urn:x"><x:A>a &amp; b &#x31;&#50; &lt;&gt;</x:A><x:B><![CDATA[<raw>]]></x:B><x:C/></x:Op></e:Body></e:Envelope>"#;
        let env = parse(xml.as_bytes()).unwrap();
        assert_eq!(env.version, SoapVersion::V12);
        assert!(env.headers.is_empty());
        let op = env.operation().unwrap();
        assert_eq!(op.child_text("urn:x", "A"), Some("a & b 12 <>"));
        assert_eq!(op.child_text("urn:x", "B"), Some("<raw>"));
        assert_eq!(op.child_text("urn:x", "C"), Some(""));
    }

    #[test]
    fn doctype_is_refused() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>"#;
        assert_eq!(parse(xml.as_bytes()), Err(ParseError::DoctypeRefused));
        let xxe = r#"<!DOCTYPE foo [<!ENTITY xxe SYSTEM "http://127.0.0.1:1/canary">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><a>&xxe;</a></soap:Body></soap:Envelope>"#;
        assert_eq!(parse(xxe.as_bytes()), Err(ParseError::DoctypeRefused));
        let param = r#"<!DOCTYPE foo [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]><a/>"#;
        assert_eq!(parse(param.as_bytes()), Err(ParseError::DoctypeRefused));
    }

    #[test]
    fn undeclared_entities_are_refused() {
        let xml = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><a>&xxe;</a></soap:Body></soap:Envelope>"#;
        assert_eq!(parse(xml.as_bytes()), Err(ParseError::EntityRefused));
    }

    #[test]
    fn billion_laughs_is_refused_fast() {
        let mut xml =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            xml.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
        }
        xml.push_str("]>\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><a>&lol9;</a></soap:Body></soap:Envelope>");
        let started = Instant::now();
        assert_eq!(parse(xml.as_bytes()), Err(ParseError::DoctypeRefused));
        assert!(started.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let depth = 10_000;
        let xml = format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{}{}</soap:Body></soap:Envelope>",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        );
        assert_eq!(parse(xml.as_bytes()), Err(ParseError::TooDeep));
        let wide = format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><a>{}</a></soap:Body></soap:Envelope>",
            "<b/>".repeat(MAX_ELEMENTS)
        );
        assert_eq!(parse(wide.as_bytes()), Err(ParseError::TooLarge));
    }

    #[test]
    fn wrong_envelope_namespace_or_root() {
        let xml = r#"<soap:Envelope xmlns:soap="http://example.com/not-soap"><soap:Body/></soap:Envelope>"#;
        assert_eq!(parse(xml.as_bytes()), Err(ParseError::NotAnEnvelope));
        let xml = r#"<Envelope><Body/></Envelope>"#;
        assert_eq!(parse(xml.as_bytes()), Err(ParseError::NotAnEnvelope));
        let xml = r#"<html><body>hi</body></html>"#;
        assert_eq!(parse(xml.as_bytes()), Err(ParseError::NotAnEnvelope));
    }

    #[test]
    fn missing_body_and_bad_structure() {
        let xml = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/></soap:Envelope>"#;
        assert_eq!(parse(xml.as_bytes()), Err(ParseError::MissingBody));
        let xml = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/><soap:Body/></soap:Envelope>"#;
        assert!(matches!(
            parse(xml.as_bytes()),
            Err(ParseError::BadStructure(_))
        ));
        let xml = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/><soap:Header/></soap:Envelope>"#;
        assert!(matches!(
            parse(xml.as_bytes()),
            Err(ParseError::BadStructure(_))
        ));
    }

    #[test]
    fn malformed_input() {
        for bad in [
            "",
            "not xml",
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>",
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body></soap:Envelope>",
            "<x:Envelope><x:Body/></x:Envelope>",
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body/></soap:Envelope><again/>",
        ] {
            assert!(
                matches!(
                    parse(bad.as_bytes()),
                    Err(ParseError::Malformed(_)) | Err(ParseError::NotAnEnvelope)
                ),
                "{bad:?}: {:?}",
                parse(bad.as_bytes())
            );
        }
        assert_eq!(parse(&[0xff, 0xfe, 0x3c]), Err(ParseError::NotUtf8));
        let pi = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><?evil x?><soap:Body/></soap:Envelope>"#;
        assert_eq!(
            parse(pi.as_bytes()),
            Err(ParseError::ProcessingInstructionRefused)
        );
    }

    #[test]
    fn must_understand_is_noted() {
        let xml = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><h xmlns="urn:h" soap:mustUnderstand="1"/></soap:Header><soap:Body/></soap:Envelope>"#;
        let env = parse(xml.as_bytes()).unwrap();
        assert!(env.headers[0].must_understand);
        assert!(env.operation().is_none());
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const SEED: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><A xmlns="urn:a"><B>x</B></A></soap:Header><soap:Body><Op xmlns="urn:a"><C>1 &amp; 2</C><D/></Op></soap:Body></soap:Envelope>"#;

    proptest! {
        /// Whatever the bytes, parsing ends with a tree or an error: no panic, no hang.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        /// Truncations and single-byte changes of a valid envelope never panic, and a tree
        /// that comes back respects the depth cap.
        #[test]
        fn mutated_envelopes_never_panic(cut in 0..SEED.len(), at in 0..SEED.len(), byte in any::<u8>()) {
            let _ = parse(&SEED.as_bytes()[..cut]);
            let mut b = SEED.as_bytes().to_vec();
            b[at] = byte;
            if let Ok(env) = parse(&b) {
                fn depth(e: &Element) -> usize {
                    1 + e.children.iter().map(depth).max().unwrap_or(0)
                }
                prop_assert!(env.body.iter().map(depth).max().unwrap_or(0) < MAX_DEPTH);
            }
        }
    }
}
