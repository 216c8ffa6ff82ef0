//! Encrypted assertions (XML Encryption): the `EncryptedAssertion` is opened with Gatehouse's
//! SP key and put back in its place as a plain `Assertion`, which then goes through every check
//! a plain one does, its own signature first.
//!
//! Anyone can encrypt to Gatehouse (its certificate is public), so encryption proves nothing:
//! the decrypted assertion must carry the provider's signature itself. A signature of the
//! whole response covered the ciphertext, which is gone: it is cut from the document.
//!
//! Accepted: key transport by RSA-OAEP only (`rsa-1_5` falls to Bleichenbacher's attack), with
//! SHA-1 or SHA-256 as XML Encryption names them; content by AES-GCM, or AES-CBC, which ADFS
//! and Entra ID use. CBC has no integrity of its own and XML Encryption over it has known
//! decryption oracles (a service answering a bad padding differently from a bad document):
//! every failure here is one refusal, and each session key is opened once (the caller records
//! its digest before anything is decrypted), so a changed ciphertext under a victim's key is
//! never answered: the oracle gets no second question. The SP metadata offers AES-GCM first.
//! A `CipherReference` (which would have Gatehouse fetch a URI) is refused.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{AES_128, AES_256, DecryptingKey, DecryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use zeroize::Zeroizing;

use super::Rejection;
use super::sp_key::EncryptionKey;

pub(super) const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub(super) const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub(super) const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
pub(super) const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub(super) const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub(super) const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";

/// Wrapped keys read from one assertion (several when a provider encrypts to several keys).
const MAX_WRAPPED_KEYS: usize = 4;

/// The one answer for every failure to open: which step failed is not told, to the browser
/// or the log (a padding oracle needs exactly that).
pub(super) fn unopened() -> Rejection {
    Rejection::Decryption("it does not open with Gatehouse's key".into())
}

fn unsupported(what: &str, uri: &str) -> Rejection {
    let shown: String = uri.chars().filter(|c| !c.is_control()).take(100).collect();
    Rejection::Decryption(format!("{what} `{shown}` is not accepted"))
}

#[derive(Debug, Default)]
struct WrappedKey {
    method: String,
    digest: Option<String>,
    mgf: Option<String>,
    cipher: String,
}

#[derive(Debug, Default)]
struct Encrypted {
    data_method: Option<String>,
    data_cipher: Option<String>,
    data_count: usize,
    keys: Vec<WrappedKey>,
}

fn algorithm(start: &BytesStart<'_>) -> String {
    start
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == b"Algorithm")
        .and_then(|a| String::from_utf8(a.value.to_vec()).ok())
        .unwrap_or_default()
}

/// Reads what opening needs from an `EncryptedAssertion` element (scanned already: no DTD,
/// bounded depth).
fn read(fragment: &str) -> Result<Encrypted, Rejection> {
    let mut reader = Reader::from_str(fragment);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut found = Encrypted::default();
    let mut cipher_text: Option<String> = None;
    loop {
        let event = reader.read_event().map_err(|_| Rejection::Malformed)?;
        let (start, empty) = match &event {
            Event::Start(start) => (Some(start), false),
            Event::Empty(start) => (Some(start), true),
            _ => (None, false),
        };
        if let Some(start) = start {
            path.push(start.local_name().as_ref().to_vec());
            let names: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
            match names.as_slice() {
                [.., b"CipherReference"] => return Err(Rejection::Decryption("a CipherReference is not followed".into())),
                [.., b"EncryptedKey", _, b"EncryptedKey"] | [.., b"EncryptedKey", b"EncryptedKey"] => return Err(unopened()),
                [_, b"EncryptedData"] => found.data_count += 1,
                [.., b"EncryptedKey"] => {
                    if found.keys.len() == MAX_WRAPPED_KEYS {
                        return Err(Rejection::Decryption("it carries too many wrapped keys".into()));
                    }
                    found.keys.push(WrappedKey::default());
                }
                [_, b"EncryptedData", b"EncryptionMethod"] => found.data_method = Some(algorithm(start)),
                [.., b"EncryptedKey", b"EncryptionMethod"] => {
                    if let Some(key) = found.keys.last_mut() {
                        key.method = algorithm(start);
                    }
                }
                [.., b"EncryptedKey", b"EncryptionMethod", b"DigestMethod"] => {
                    if let Some(key) = found.keys.last_mut() {
                        key.digest = Some(algorithm(start));
                    }
                }
                [.., b"EncryptedKey", b"EncryptionMethod", b"MGF"] => {
                    if let Some(key) = found.keys.last_mut() {
                        key.mgf = Some(algorithm(start));
                    }
                }
                [.., b"CipherData", b"CipherValue"] => cipher_text = Some(String::new()),
                _ => {}
            }
            if empty {
                path.pop();
            }
            continue;
        }
        match event {
            Event::Text(text) if cipher_text.is_some() => {
                let piece = std::str::from_utf8(&text).map_err(|_| Rejection::Malformed)?;
                cipher_text.get_or_insert_with(String::new).push_str(piece);
            }
            Event::End(_) => {
                let names: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
                if let (Some(text), [.., holder, b"CipherData", b"CipherValue"]) = (cipher_text.take(), names.as_slice()) {
                    match *holder {
                        b"EncryptedData" => found.data_cipher = Some(text),
                        b"EncryptedKey" => {
                            if let Some(key) = found.keys.last_mut() {
                                key.cipher = text;
                            }
                        }
                        _ => {}
                    }
                }
                path.pop();
            }
            // Base64 needs no references; CDATA hides nothing a signature covers but is not
            // how any provider writes a CipherValue.
            Event::GeneralRef(_) | Event::CData(_) if cipher_text.is_some() => return Err(Rejection::Malformed),
            Event::Eof => return Ok(found),
            _ => {}
        }
    }
}

fn base64(text: &str) -> Result<Vec<u8>, Rejection> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact.as_bytes()).map_err(|_| unopened())
}

/// The OAEP parameters a wrapped key names, on aws-lc-rs's list (digest and MGF1 hash alike).
fn oaep(key: &WrappedKey) -> Result<&'static OaepAlgorithm, Rejection> {
    let digest = key.digest.as_deref().unwrap_or(SHA1);
    match (key.method.as_str(), digest, key.mgf.as_deref()) {
        // rsa-oaep-mgf1p: MGF1 with SHA-1 always; SHA-1 the default digest.
        (RSA_OAEP_MGF1P, SHA1, None) | (RSA_OAEP, SHA1, None | Some(MGF1_SHA1)) => Ok(&OAEP_SHA1_MGF1SHA1),
        (RSA_OAEP, SHA256, Some(MGF1_SHA256)) => Ok(&OAEP_SHA256_MGF1SHA256),
        (RSA_OAEP_MGF1P | RSA_OAEP, _, _) => Err(unsupported("the RSA-OAEP digest", &format!("{digest} with {}", key.mgf.as_deref().unwrap_or("MGF1-SHA1")))),
        (method, _, _) => Err(unsupported("the key transport", method)),
    }
}

#[derive(Clone, Copy)]
enum Content {
    Gcm(&'static aws_lc_rs::aead::Algorithm),
    Cbc(&'static aws_lc_rs::cipher::Algorithm),
}

impl Content {
    fn named(uri: &str) -> Result<(Self, usize), Rejection> {
        match uri {
            AES128_GCM => Ok((Self::Gcm(&AES_128_GCM), 16)),
            AES256_GCM => Ok((Self::Gcm(&AES_256_GCM), 32)),
            AES128_CBC => Ok((Self::Cbc(&AES_128), 16)),
            AES256_CBC => Ok((Self::Cbc(&AES_256), 32)),
            other => Err(unsupported("the content encryption", other)),
        }
    }

    fn open(self, key: &[u8], mut data: Vec<u8>) -> Result<Vec<u8>, Rejection> {
        match self {
            // IV (12 bytes) || ciphertext || tag (16 bytes).
            Self::Gcm(algorithm) => {
                let (iv, rest) = data.split_at_checked(12).ok_or_else(unopened)?;
                let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| unopened())?;
                let mut sealed = rest.to_vec();
                let key = LessSafeKey::new(UnboundKey::new(algorithm, key).map_err(|_| unopened())?);
                let plain = key.open_in_place(nonce, Aad::empty(), &mut sealed).map_err(|_| unopened())?;
                Ok(plain.to_vec())
            }
            // IV (16 bytes) || ciphertext, padded per XML Encryption: the last byte counts the
            // padding bytes (1 to 16), whose other values are arbitrary.
            Self::Cbc(algorithm) => {
                if data.len() < 32 || !data.len().is_multiple_of(16) {
                    return Err(unopened());
                }
                let mut body = data.split_off(16);
                let iv: [u8; 16] = data.as_slice().try_into().map_err(|_| unopened())?;
                let key = DecryptingKey::cbc(UnboundCipherKey::new(algorithm, key).map_err(|_| unopened())?).map_err(|_| unopened())?;
                let plain = key.decrypt(&mut body, DecryptionContext::Iv128(FixedLength::from(iv))).map_err(|_| unopened())?;
                let padding = usize::from(*plain.last().ok_or_else(unopened)?);
                if padding == 0 || padding > 16 || padding > plain.len() {
                    return Err(unopened());
                }
                let kept = plain.len() - padding;
                Ok(plain.get(..kept).ok_or_else(unopened)?.to_vec())
            }
        }
    }
}

/// The session key: the first wrapped key one of Gatehouse's keys opens, of the content
/// algorithm's length.
fn session_key(wrapped: &[WrappedKey], keys: &[EncryptionKey], length: usize) -> Result<Vec<u8>, Rejection> {
    for candidate in wrapped {
        let algorithm = oaep(candidate)?;
        let cipher = base64(&candidate.cipher)?;
        for key in keys {
            let mut out = vec![0u8; key.decrypting.min_output_size()];
            if let Ok(opened) = key.decrypting.decrypt(algorithm, &cipher, &mut out, None)
                && opened.len() == length
            {
                return Ok(opened.to_vec());
            }
        }
    }
    Err(unopened())
}

/// The plaintext must be one `Assertion` element and nothing else (no text, no second element
/// around or after it).
fn one_assertion(plain: &str) -> Result<(), Rejection> {
    let mut reader = Reader::from_str(plain.trim());
    let mut depth = 0usize;
    let mut elements = 0usize;
    loop {
        match reader.read_event().map_err(|_| unopened())? {
            Event::Start(start) => {
                if depth == 0 {
                    elements += 1;
                    if start.local_name().as_ref() != b"Assertion" {
                        return Err(unopened());
                    }
                }
                depth += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(text) if depth == 0 && !text.iter().all(u8::is_ascii_whitespace) => return Err(unopened()),
            Event::Empty(_) | Event::CData(_) | Event::GeneralRef(_) if depth == 0 => return Err(unopened()),
            Event::Eof if elements == 1 && depth == 0 => return Ok(()),
            Event::Eof => return Err(unopened()),
            _ => {}
        }
    }
}

/// An encrypted assertion whose session key Gatehouse's key unwrapped, not yet decrypted.
/// The caller records [`Self::key_digest`] as used before [`Self::open`] reads anything: a
/// ciphertext can then be tried once, and no answer to a changed one (a CBC padding or
/// parsing oracle, or GCM relabelled as CBC) comes from the same key twice.
pub(super) struct Unwrapped {
    span: (usize, usize),
    content: Content,
    session: Zeroizing<Vec<u8>>,
    data: Vec<u8>,
}

impl std::fmt::Debug for Unwrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unwrapped").field("span", &self.span).finish_non_exhaustive()
    }
}

/// Reads the `EncryptedAssertion` at `span` and unwraps its session key.
pub(super) fn unwrap(xml: &str, span: (usize, usize), keys: &[EncryptionKey]) -> Result<Unwrapped, Rejection> {
    if keys.is_empty() {
        return Err(Rejection::Decryption("Gatehouse holds no SAML encryption key".into()));
    }
    let fragment = xml.get(span.0..span.1).ok_or(Rejection::Malformed)?;
    let encrypted = read(fragment)?;
    if encrypted.data_count != 1 {
        return Err(Rejection::Decryption(format!("it must carry exactly one EncryptedData, it carries {}", encrypted.data_count)));
    }
    let (content, length) = Content::named(encrypted.data_method.as_deref().unwrap_or_default())?;
    let session = Zeroizing::new(session_key(&encrypted.keys, keys, length)?);
    let data = base64(encrypted.data_cipher.as_deref().ok_or_else(unopened)?)?;
    Ok(Unwrapped { span, content, session, data })
}

impl Unwrapped {
    /// SHA-256 of the session key: what the replay cache records.
    pub(super) fn key_digest(&self) -> [u8; 32] {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.session);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    /// The response with the encrypted assertion replaced by the plain one and the root's own
    /// signatures (at `root_signatures`, over the ciphertext) cut. Every failure, from the
    /// cipher to a plaintext that is not one `Assertion`, is the same refusal.
    pub(super) fn open(self, xml: &str, root_signatures: &[(usize, usize)]) -> Result<String, Rejection> {
        let plain = self.content.open(&self.session, self.data)?;
        let plain = String::from_utf8(plain).map_err(|_| unopened())?;
        one_assertion(&plain)?;
        let mut cuts: Vec<(usize, usize, &str)> = root_signatures.iter().map(|&(start, end)| (start, end, "")).collect();
        cuts.push((self.span.0, self.span.1, plain.trim()));
        cuts.sort_by_key(|cut| cut.0);
        let mut out = String::with_capacity(xml.len() + plain.len());
        let mut at = 0;
        for (start, end, with) in cuts {
            // Spans come from one scan of this document: ordered, disjoint, on char boundaries.
            out.push_str(xml.get(at..start).ok_or_else(unopened)?);
            out.push_str(with);
            at = end;
        }
        out.push_str(xml.get(at..).ok_or_else(unopened)?);
        Ok(out)
    }
}

/// [`unwrap`] then [`Unwrapped::open`], for the tests.
#[cfg(test)]
pub(super) fn open(xml: &str, span: (usize, usize), root_signatures: &[(usize, usize)], keys: &[EncryptionKey]) -> Result<String, Rejection> {
    unwrap(xml, span, keys)?.open(xml, root_signatures)
}

#[cfg(test)]
mod tests;
