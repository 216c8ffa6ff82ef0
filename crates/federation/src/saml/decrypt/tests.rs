//! Encrypted assertions made here with aws-lc-rs as XML Encryption lays them out; the
//! integration tests encrypt with the `xmlsec1` tool through pysaml2 instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{AES_128, AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PrivateDecryptingKey};
use std::sync::OnceLock;

use super::*;
use crate::saml::scan;

const ASSERTION: &str =
    r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1"><saml:Issuer>https://idp.test</saml:Issuer></saml:Assertion>"#;

/// One key for every test (RSA generation is the slow part).
fn stored() -> &'static gatehouse_store::SamlSpKey {
    static KEY: OnceLock<gatehouse_store::SamlSpKey> = OnceLock::new();
    KEY.get_or_init(|| EncryptionKey::generate("https://id.test/saml/metadata", time::OffsetDateTime::UNIX_EPOCH).unwrap())
}

fn keys() -> Vec<EncryptionKey> {
    vec![EncryptionKey::load(stored()).unwrap()]
}

struct Sealing<'a> {
    content: &'a str,
    transport: &'a str,
    /// `DigestMethod` and `MGF` of the wrapped key, when named.
    digest: Option<&'a str>,
    mgf: Option<&'a str>,
    plain: &'a str,
}

impl Default for Sealing<'_> {
    fn default() -> Self {
        Self { content: AES256_GCM, transport: RSA_OAEP_MGF1P, digest: None, mgf: None, plain: ASSERTION }
    }
}

fn encrypt_content(content: &str, key: &[u8], plain: &[u8]) -> Vec<u8> {
    match content {
        AES128_GCM | AES256_GCM => {
            let algorithm = if content == AES128_GCM { &AES_128_GCM } else { &AES_256_GCM };
            let iv = [7u8; 12];
            let mut data = plain.to_vec();
            let sealing = LessSafeKey::new(UnboundKey::new(algorithm, key).unwrap());
            sealing.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut data).unwrap();
            [iv.to_vec(), data].concat()
        }
        _ => {
            let algorithm = if content == AES128_CBC { &AES_128 } else { &AES_256 };
            let iv = [9u8; 16];
            let padding = 16 - plain.len() % 16;
            let mut data = plain.to_vec();
            data.extend(std::iter::repeat_n(0xAB, padding - 1));
            data.push(u8::try_from(padding).unwrap());
            let encrypting = EncryptingKey::cbc(UnboundCipherKey::new(algorithm, key).unwrap()).unwrap();
            encrypting.less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv))).unwrap();
            [iv.to_vec(), data].concat()
        }
    }
}

fn wrap_key(session: &[u8], sealing: &Sealing<'_>) -> Vec<u8> {
    let public = OaepPublicEncryptingKey::new(PrivateDecryptingKey::from_pkcs8(&stored().pkcs8).unwrap().public_key()).unwrap();
    let algorithm = if sealing.digest == Some(SHA256) { &OAEP_SHA256_MGF1SHA256 } else { &OAEP_SHA1_MGF1SHA1 };
    let mut out = vec![0u8; public.ciphertext_size()];
    public.encrypt(algorithm, session, &mut out, None).unwrap().to_vec()
}

fn encrypted_assertion(sealing: &Sealing<'_>) -> String {
    let length = if matches!(sealing.content, AES128_GCM | AES128_CBC) { 16 } else { 32 };
    let session = vec![0x42u8; length];
    let data = STANDARD.encode(encrypt_content(sealing.content, &session, sealing.plain.as_bytes()));
    let wrapped = STANDARD.encode(wrap_key(&session, sealing));
    let digest = sealing.digest.map(|d| format!(r#"<ds:DigestMethod Algorithm="{d}"/>"#)).unwrap_or_default();
    let mgf = sealing.mgf.map(|m| format!(r#"<xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="{m}"/>"#)).unwrap_or_default();
    format!(
        r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{content}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{transport}">{digest}{mgf}</xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{wrapped}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>
{data}
</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
        content = sealing.content,
        transport = sealing.transport,
    )
}

fn response(encrypted: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature><samlp:Status/>{encrypted}</samlp:Response>"#
    )
}

fn open_response(xml: &str) -> Result<String, Rejection> {
    let shape = scan::response(xml)?;
    open(xml, shape.encrypted_span.unwrap(), &shape.root_signatures, &keys())
}

#[test]
fn an_assertion_encrypted_with_aes_gcm_or_cbc_is_put_back_in_its_place_and_the_response_signature_cut() {
    let expected = format!(r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r"><samlp:Status/>{ASSERTION}</samlp:Response>"#);
    for content in [AES128_GCM, AES256_GCM, AES128_CBC, AES256_CBC] {
        let xml = response(&encrypted_assertion(&Sealing { content, ..Sealing::default() }));
        assert_eq!(open_response(&xml), Ok(expected.clone()), "{content}");
    }
    let oaep_sha256 = Sealing { transport: RSA_OAEP, digest: Some(SHA256), mgf: Some(MGF1_SHA256), ..Sealing::default() };
    assert_eq!(open_response(&response(&encrypted_assertion(&oaep_sha256))), Ok(expected.clone()), "xmlenc11 rsa-oaep with SHA-256");
    let oaep_default = Sealing { transport: RSA_OAEP, ..Sealing::default() };
    assert_eq!(open_response(&response(&encrypted_assertion(&oaep_default))), Ok(expected), "xmlenc11 rsa-oaep, SHA-1 by default");
}

#[test]
fn weak_or_unknown_algorithms_are_refused_by_name() {
    let refused = |sealing: Sealing<'_>| open_response(&response(&encrypted_assertion(&sealing)));
    let named = |result: Result<String, Rejection>, part: &str| matches!(result, Err(Rejection::Decryption(m)) if m.contains(part));
    assert!(named(refused(Sealing { transport: "http://www.w3.org/2001/04/xmlenc#rsa-1_5", ..Sealing::default() }), "rsa-1_5"));
    // The content algorithm is checked before any key is unwrapped.
    assert!(named(refused(Sealing { content: "http://www.w3.org/2001/04/xmlenc#tripledes-cbc", ..Sealing::default() }), "tripledes-cbc"));
    let mixed = Sealing { transport: RSA_OAEP, digest: Some(SHA256), mgf: Some(MGF1_SHA1), ..Sealing::default() };
    assert!(named(refused(mixed), "RSA-OAEP digest"));
}

#[test]
fn every_failure_to_open_reads_the_same() {
    let same = Err(unopened());
    let good = encrypted_assertion(&Sealing { content: AES256_CBC, ..Sealing::default() });
    // The CBC ciphertext's last block changed: the padding byte comes out wrong.
    let start = good.find("<xenc:CipherValue>\n").unwrap() + "<xenc:CipherValue>\n".len();
    let end = good[start..].find('\n').unwrap() + start;
    let mut data = STANDARD.decode(&good[start..end]).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0x01;
    let bad_padding = format!("{}{}{}", &good[..start], STANDARD.encode(&data), &good[end..]);
    assert_eq!(open_response(&response(&bad_padding)), same, "a bad padding");
    // A GCM ciphertext with one bit flipped fails its tag.
    let gcm = encrypted_assertion(&Sealing::default());
    let start = gcm.find("<xenc:CipherValue>\n").unwrap() + "<xenc:CipherValue>\n".len();
    let end = gcm[start..].find('\n').unwrap() + start;
    let mut data = STANDARD.decode(&gcm[start..end]).unwrap();
    data[20] ^= 0x01;
    let flipped = format!("{}{}{}", &gcm[..start], STANDARD.encode(&data), &gcm[end..]);
    assert_eq!(open_response(&response(&flipped)), same, "a flipped bit");
    // Encrypted to another key.
    let other = EncryptionKey::load(&EncryptionKey::generate("https://other.test", time::OffsetDateTime::UNIX_EPOCH).unwrap()).unwrap();
    let xml = response(&encrypted_assertion(&Sealing::default()));
    let shape = scan::response(&xml).unwrap();
    assert_eq!(open(&xml, shape.encrypted_span.unwrap(), &shape.root_signatures, &[other]), same, "another key");
}

#[test]
fn the_plaintext_must_be_one_assertion_and_nothing_is_fetched() {
    let two = format!("{ASSERTION}{ASSERTION}");
    let breakout = format!("{ASSERTION}</saml:EncryptedAssertion><samlp:Extensions>");
    let response_element = "<saml:Response xmlns:saml='x'><saml:Assertion/></saml:Response>";
    for plain in [two.as_str(), breakout.as_str(), response_element, "<saml:Response xmlns:saml='x'/>", "<Attribute/>", "plain text"] {
        let xml = response(&encrypted_assertion(&Sealing { plain, ..Sealing::default() }));
        assert_eq!(open_response(&xml), Err(unopened()), "{plain}: the same refusal as a bad key or padding");
    }
    let reference = encrypted_assertion(&Sealing::default()).replacen(
        "<xenc:CipherData><xenc:CipherValue>\n",
        "<xenc:CipherData><xenc:CipherReference URI=\"http://169.254.169.254/\"/><xenc:CipherValue>\n",
        1,
    );
    assert!(matches!(open_response(&response(&reference)), Err(Rejection::Decryption(m)) if m.contains("CipherReference")));
    let two_data =
        encrypted_assertion(&Sealing::default()).replace("</saml:EncryptedAssertion>", "<xenc:EncryptedData xmlns:xenc='x'/></saml:EncryptedAssertion>");
    assert!(matches!(open_response(&response(&two_data)), Err(Rejection::Decryption(m)) if m.contains("exactly one EncryptedData")));
    let xml = response(&encrypted_assertion(&Sealing::default()));
    let shape = scan::response(&xml).unwrap();
    assert!(matches!(open(&xml, shape.encrypted_span.unwrap(), &[], &[]), Err(Rejection::Decryption(m)) if m.contains("no SAML encryption key")));
}

#[test]
fn the_scan_finds_the_encrypted_assertion_and_the_root_signature_and_leaves_xml_encryption_algorithms_to_decryption() {
    let xml = response(&encrypted_assertion(&Sealing { digest: Some("http://www.w3.org/2000/09/xmldsig#sha1"), ..Sealing::default() }));
    let shape = scan::response(&xml).unwrap();
    let (start, end) = shape.encrypted_span.unwrap();
    assert!(xml[start..end].starts_with("<saml:EncryptedAssertion") && xml[start..end].ends_with("</saml:EncryptedAssertion>"));
    assert_eq!(shape.root_signatures.len(), 1);
    let (start, end) = shape.root_signatures[0];
    assert_eq!(&xml[start..end], r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>"#);
    // A SHA-1 digest outside XML Encryption is still a signature's, and refused.
    let signed_sha1 = xml.replace("<ds:SignedInfo/>", "<ds:SignedInfo><ds:DigestMethod Algorithm='http://www.w3.org/2000/09/xmldsig#sha1'/></ds:SignedInfo>");
    assert!(matches!(scan::response(&signed_sha1), Err(Rejection::Algorithm("digest", _))));
}
