//! What Gatehouse checks of a SAML document before any signature code reads it: no DTD (no
//! entity expansion, no external fetch), a bounded depth, the algorithms it names, the number
//! of assertions. A streaming pass over the bytes; nothing is built.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::Rejection;

/// Canonicalization: exclusive c14n only (inclusive c14n lets ancestors' namespaces into the
/// digest; "with comments" variants have split text nodes in other libraries).
const C14N: [&str; 1] = ["http://www.w3.org/2001/10/xml-exc-c14n#"];
const TRANSFORMS: [&str; 2] = ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"];
/// RSA and ECDSA with SHA-256 or stronger.
pub(super) const SIGNATURE_METHODS: [&str; 6] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
const DIGESTS: [&str; 3] =
    ["http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2001/04/xmldsig-more#sha384", "http://www.w3.org/2001/04/xmlenc#sha512"];
/// Deeper than any SAML response needs; bounds the verifier's recursion.
const MAX_DEPTH: usize = 48;

/// What the scan saw.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Shape {
    pub assertions: usize,
    pub encrypted_assertions: usize,
    /// Assertions (plain or encrypted) anywhere but directly under the root, where SAML Core
    /// §3.3.3 puts them (in `Extensions`, `Advice`, a `Signature`...).
    pub misplaced_assertions: usize,
    pub envelope: Envelope,
    /// Where the outermost `EncryptedAssertion` element lies, start and end byte offsets (with
    /// several, the answer is refused by their count).
    pub encrypted_span: Option<(usize, usize)>,
    /// Where the root's own `Signature` elements lie: after an assertion is decrypted they
    /// cover ciphertext that is gone, so they are cut and the assertion's own signature counts.
    pub root_signatures: Vec<(usize, usize)>,
}

/// What the root element says of itself, outside any signature when only the assertion is
/// signed: still checked (a failure status, another issuer, another destination).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Envelope {
    /// The root element's local name (`Response` for the HTTP-POST binding).
    pub root: String,
    pub destination: Option<String>,
    /// The text of the root's own `Issuer`.
    pub issuer: Option<String>,
    /// The `Value` of the root's top-level `Status/StatusCode`.
    pub status: Option<String>,
    /// The root's `InResponseTo`: absent in an unsolicited answer.
    pub in_response_to: Option<String>,
}

fn text(raw: &[u8]) -> Result<String, Rejection> {
    let raw = std::str::from_utf8(raw).map_err(|_| Rejection::Malformed)?;
    quick_xml::escape::unescape(raw).map(|t| t.into_owned()).map_err(|_| Rejection::Malformed)
}

fn issuer_text(envelope: &mut Envelope) -> &mut String {
    envelope.issuer.get_or_insert_with(String::new)
}

/// An entity reference in text (`amp`, `#38`, `#x26`): XML's five and character references.
fn reference(name: &[u8]) -> Result<char, Rejection> {
    let name = std::str::from_utf8(name).map_err(|_| Rejection::Malformed)?;
    let code = |digits: &str, radix| u32::from_str_radix(digits, radix).ok().and_then(char::from_u32);
    let found = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => name.strip_prefix("#x").and_then(|hex| code(hex, 16)).or_else(|| name.strip_prefix('#').and_then(|dec| code(dec, 10))),
    };
    found.ok_or(Rejection::Malformed)
}

/// An unqualified attribute (SAML's are): `q:InResponseTo` is another attribute, not this one.
fn attribute(start: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, Rejection> {
    match start.attributes().flatten().find(|a| a.key.as_ref() == name) {
        Some(a) => text(&a.value).map(Some),
        None => Ok(None),
    }
}

/// Notes what an element at `path` (its ancestors' local names, itself last) tells of the
/// envelope.
fn envelope(start: &BytesStart<'_>, path: &[Vec<u8>], envelope: &mut Envelope) -> Result<(), Rejection> {
    match path {
        [root] => {
            envelope.root = String::from_utf8_lossy(root).into_owned();
            envelope.destination = attribute(start, b"Destination")?;
            envelope.in_response_to = attribute(start, b"InResponseTo")?;
        }
        [_, status, code] if status == b"Status" && code == b"StatusCode" && envelope.status.is_none() => {
            envelope.status = attribute(start, b"Value")?;
        }
        _ => {}
    }
    Ok(())
}

/// Whether a document (metadata or a response) declares a DTD, at the byte level: before any
/// parser could act on one.
pub(super) fn has_dtd(xml: &str) -> bool {
    let lower = xml.to_ascii_lowercase();
    lower.contains("<!doctype") || lower.contains("<!entity")
}

/// The `Algorithm` attribute as written: compared unescaped, an escaped spelling of an allowed
/// URI is refused (fail closed) rather than decoded.
fn algorithm(start: &BytesStart<'_>) -> Option<String> {
    start.attributes().flatten().find(|a| a.key.local_name().as_ref() == b"Algorithm").and_then(|a| String::from_utf8(a.value.to_vec()).ok())
}

fn check(start: &BytesStart<'_>, shape: &mut Shape, in_encrypted: bool, depth: usize) -> Result<(), Rejection> {
    let allowed: (&'static str, &[&str]) = match start.local_name().as_ref() {
        b"Assertion" => {
            shape.assertions += 1;
            shape.misplaced_assertions += usize::from(depth != 2);
            return Ok(());
        }
        b"EncryptedAssertion" => {
            shape.encrypted_assertions += 1;
            shape.misplaced_assertions += usize::from(depth != 2);
            return Ok(());
        }
        // XML Encryption names its own algorithms, which the decryption checks.
        _ if in_encrypted => return Ok(()),
        b"CanonicalizationMethod" => ("canonicalization", &C14N),
        b"Transform" => ("transform", &TRANSFORMS),
        b"SignatureMethod" => ("signature", &SIGNATURE_METHODS),
        b"DigestMethod" => ("digest", &DIGESTS),
        _ => return Ok(()),
    };
    let found = algorithm(start).unwrap_or_default();
    if allowed.1.contains(&found.as_str()) {
        return Ok(());
    }
    // The value is the sender's: bounded and without control characters before it is logged.
    Err(Rejection::Algorithm(allowed.0, found.chars().filter(|c| !c.is_control()).take(100).collect()))
}

/// Scans a response: refuses a DTD, excessive depth and any algorithm off the lists; counts
/// the assertions.
pub(super) fn response(xml: &str) -> Result<Shape, Rejection> {
    if has_dtd(xml) {
        return Err(Rejection::Dtd);
    }
    let mut reader = Reader::from_str(xml);
    let mut shape = Shape::default();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut in_issuer = false;
    // The depth of the EncryptedAssertion or root Signature being read, and where it began.
    let mut encrypted: Option<(usize, usize)> = None;
    let mut root_signature: Option<usize> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).map_err(|_| Rejection::TooLarge)?;
        let event = reader.read_event().map_err(|_| Rejection::Malformed)?;
        let after = usize::try_from(reader.buffer_position()).map_err(|_| Rejection::TooLarge)?;
        match event {
            Event::Start(start) => {
                path.push(start.local_name().as_ref().to_vec());
                if path.len() > MAX_DEPTH {
                    return Err(Rejection::TooDeep);
                }
                check(&start, &mut shape, encrypted.is_some(), path.len())?;
                envelope(&start, &path, &mut shape.envelope)?;
                in_issuer = matches!(path.as_slice(), [_, issuer] if issuer == b"Issuer");
                match path.as_slice() {
                    [.., last] if last == b"EncryptedAssertion" && encrypted.is_none() => encrypted = Some((path.len(), before)),
                    [_, last] if last == b"Signature" => root_signature = Some(before),
                    _ => {}
                }
            }
            Event::Empty(start) => {
                path.push(start.local_name().as_ref().to_vec());
                check(&start, &mut shape, encrypted.is_some(), path.len())?;
                envelope(&start, &path, &mut shape.envelope)?;
                match path.as_slice() {
                    [.., last] if last == b"EncryptedAssertion" && encrypted.is_none() => shape.encrypted_span = Some((before, after)),
                    [_, last] if last == b"Signature" => shape.root_signatures.push((before, after)),
                    _ => {}
                }
                path.pop();
            }
            // The issuer's text arrives in pieces: text, entity references, CDATA.
            Event::Text(t) if in_issuer => issuer_text(&mut shape.envelope).push_str(&text(&t)?),
            Event::GeneralRef(r) if in_issuer => issuer_text(&mut shape.envelope).push(reference(&r)?),
            Event::CData(c) if in_issuer => issuer_text(&mut shape.envelope).push_str(std::str::from_utf8(&c).map_err(|_| Rejection::Malformed)?),
            Event::End(_) => {
                if let Some((_, start)) = encrypted.filter(|(depth, _)| *depth == path.len()) {
                    shape.encrypted_span = Some((start, after));
                    encrypted = None;
                }
                if let Some(start) = root_signature.filter(|_| path.len() == 2) {
                    shape.root_signatures.push((start, after));
                    root_signature = None;
                }
                path.pop();
                if in_issuer {
                    shape.envelope.issuer = shape.envelope.issuer.take().map(|i| i.trim().to_owned());
                }
                in_issuer = false;
            }
            Event::DocType(_) => return Err(Rejection::Dtd),
            // Canonicalization drops comments, so a signature still verifies with one inserted
            // into a NameID (`admin<!---->.evil.test`), where some readers take the first text
            // node only. No IdP comments its answers: refused.
            Event::Comment(_) | Event::PI(_) => return Err(Rejection::Comment),
            Event::Eof => return Ok(shape),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dtd_is_refused_before_parsing_in_any_case() {
        assert_eq!(response("<!DOCTYPE r [<!ENTITY x 'y'>]><r/>"), Err(Rejection::Dtd));
        assert_eq!(response("<?xml version='1.0'?><!doctype r><r/>"), Err(Rejection::Dtd));
        assert!(has_dtd("<r><!ENTITY></r>"));
    }

    #[test]
    fn only_exclusive_c14n_and_sha2_signatures_pass() {
        let sig = |c14n: &str, method: &str, digest: &str| {
            format!(
                "<r><ds:Signature xmlns:ds='x'><ds:SignedInfo><ds:CanonicalizationMethod Algorithm='{c14n}'/><ds:SignatureMethod Algorithm='{method}'/><ds:Reference><ds:Transforms><ds:Transform Algorithm='http://www.w3.org/2000/09/xmldsig#enveloped-signature'/></ds:Transforms><ds:DigestMethod Algorithm='{digest}'/></ds:Reference></ds:SignedInfo></ds:Signature><Assertion/></r>"
            )
        };
        let exc = C14N[0];
        let (rsa256, sha256) = (SIGNATURE_METHODS[0], DIGESTS[0]);
        assert_eq!(response(&sig(exc, rsa256, sha256)).map(|s| (s.assertions, s.encrypted_assertions)), Ok((1, 0)));
        let inclusive = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
        assert!(matches!(response(&sig(inclusive, rsa256, sha256)), Err(Rejection::Algorithm("canonicalization", _))));
        let rsa_sha1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
        assert!(matches!(response(&sig(exc, rsa_sha1, sha256)), Err(Rejection::Algorithm("signature", _))));
        let hmac = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
        assert!(matches!(response(&sig(exc, hmac, sha256)), Err(Rejection::Algorithm("signature", _))));
        assert!(matches!(response(&sig(exc, rsa256, "http://www.w3.org/2000/09/xmldsig#sha1")), Err(Rejection::Algorithm("digest", _))));
        let xpath = sig(exc, rsa256, sha256).replace("xmldsig#enveloped-signature", "TR/1999/REC-xpath-19991116");
        assert!(matches!(response(&xpath), Err(Rejection::Algorithm("transform", _))));
    }

    #[test]
    fn the_unsigned_envelope_is_read_for_its_own_checks() {
        let xml = "<?xml version='1.0'?><p:Response xmlns:p='p' Destination='https://id.test/saml/acs?a=1&amp;b=2'><s:Issuer xmlns:s='s'> https://idp.test/?a=1&amp;b=2&#x26;c<![CDATA[=3]]> </s:Issuer><p:Status><p:StatusCode Value='urn:oasis:names:tc:SAML:2.0:status:Requester'><p:StatusCode Value='inner'/></p:StatusCode></p:Status><s:Assertion xmlns:s='s'><s:Issuer>not the envelope's</s:Issuer></s:Assertion></p:Response>";
        let envelope = response(xml).unwrap().envelope;
        assert_eq!(envelope.root, "Response");
        assert_eq!(envelope.destination.as_deref(), Some("https://id.test/saml/acs?a=1&b=2"));
        assert_eq!(envelope.issuer.as_deref(), Some("https://idp.test/?a=1&b=2&c=3"), "text, references and CDATA joined");
        assert_eq!(envelope.status.as_deref(), Some("urn:oasis:names:tc:SAML:2.0:status:Requester"), "the top-level code, not the nested one");
        assert_eq!(response("<r/>").unwrap().envelope, Envelope { root: "r".into(), ..Envelope::default() });
    }

    #[test]
    fn assertions_are_counted_wherever_they_hide_and_depth_is_bounded() {
        let wrapped = "<Response><Extensions><Assertion/></Extensions><saml:Assertion xmlns:saml='a'/><EncryptedAssertion/></Response>";
        assert_eq!(response(wrapped).map(|s| (s.assertions, s.encrypted_assertions, s.misplaced_assertions)), Ok((2, 1, 1)));
        let moved = "<Response><Extensions><EncryptedAssertion/></Extensions></Response>";
        assert_eq!(response(moved).map(|s| (s.encrypted_assertions, s.misplaced_assertions)), Ok((1, 1)), "an encrypted one outside its place too");
        let deep = format!("{}{}", "<a>".repeat(MAX_DEPTH + 1), "</a>".repeat(MAX_DEPTH + 1));
        assert_eq!(response(&deep), Err(Rejection::TooDeep));
        assert_eq!(response("<a><b></a>"), Err(Rejection::Malformed));
        assert_eq!(response("<a><NameID>admin<!---->.evil.test</NameID></a>"), Err(Rejection::Comment));
        assert_eq!(response("<a><?evil?></a>"), Err(Rejection::Comment));
    }
}
