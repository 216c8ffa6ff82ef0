//! A SAML identity provider in process, for the benches: an RSA-2048 key and certificate, its
//! metadata, responses whose assertion it signs (samael's xmlsec signing, not Gatehouse's
//! verifying code), and the same assertion encrypted to Gatehouse's certificate with openssl
//! (RSA-OAEP, AES-256-CBC, as ADFS and Entra ID send it). Included by path by
//! `gatehouse-federation`'s `saml_finish` and `gatehouse-server`'s `federated_sign_in`.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{Crypto, CryptoProvider};

pub const IDP: &str = "https://idp.bench.test/saml";

/// An RSA-2048 key (DER) and its self-signed certificate (DER).
pub fn key_and_certificate() -> (Vec<u8>, Vec<u8>) {
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let key = openssl::pkey::PKey::from_rsa(rsa).unwrap();
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "bench idp").unwrap();
    let name = name.build();
    let mut builder = openssl::x509::X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap()).unwrap();
    builder.set_not_after(&openssl::asn1::Asn1Time::days_from_now(2).unwrap()).unwrap();
    builder.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
    (key.private_key_to_der().unwrap(), builder.build().to_der().unwrap())
}

/// The IdP's metadata: its signing certificate and a SingleSignOnService over HTTP-Redirect.
pub fn metadata(certificate: &[u8]) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.bench.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        STANDARD.encode(certificate)
    )
}

/// Who the answer is for and what it answers.
pub struct Answer<'a> {
    pub acs: &'a str,
    pub audience: &'a str,
    pub request_id: &'a str,
    pub assertion_id: &'a str,
    pub name_id: &'a str,
    pub email: &'a str,
}

/// A response whose assertion is signed with `key` (valid for ten minutes).
pub fn signed_response(answer: &Answer<'_>, key: &[u8]) -> String {
    let now = chrono::Utc::now();
    let (at, until) = (now.format("%Y-%m-%dT%H:%M:%SZ"), (now + chrono::Duration::minutes(10)).format("%Y-%m-%dT%H:%M:%SZ"));
    let Answer { acs, audience, request_id, assertion_id: id, name_id, email } = answer;
    let xml = format!(
        r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{id}" Version="2.0" IssueInstant="{at}" Destination="{acs}" InResponseTo="{request_id}"><saml:Issuer>{IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="{id}" Version="2.0" IssueInstant="{at}"><saml:Issuer>{IDP}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{acs}" InResponseTo="{request_id}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{at}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{at}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="mail"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"##
    );
    Crypto::sign_xml(xml, key).unwrap()
}

/// The signed response with its assertion encrypted to `certificate_base64` (the SP
/// metadata's encryption certificate): RSA-OAEP (SHA-1, `rsa-oaep-mgf1p`) and AES-256-CBC with
/// XML Encryption's padding.
pub fn encrypted(signed: &str, certificate_base64: &str) -> String {
    let certificate = openssl::x509::X509::from_der(&STANDARD.decode(certificate_base64).unwrap()).unwrap();
    let public = certificate.public_key().unwrap().rsa().unwrap();
    let start = signed.find("<saml:Assertion").unwrap();
    let end = signed.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let mut session = [0u8; 32];
    let mut iv = [0u8; 16];
    openssl::rand::rand_bytes(&mut session).unwrap();
    openssl::rand::rand_bytes(&mut iv).unwrap();
    let mut wrapped = vec![0u8; public.size() as usize];
    let length = public.public_encrypt(&session, &mut wrapped, openssl::rsa::Padding::PKCS1_OAEP).unwrap();
    wrapped.truncate(length);
    let plain = &signed.as_bytes()[start..end];
    let padding = 16 - plain.len() % 16;
    let mut padded = plain.to_vec();
    padded.extend(std::iter::repeat_n(0u8, padding - 1));
    padded.push(u8::try_from(padding).unwrap());
    let mut crypter = openssl::symm::Crypter::new(openssl::symm::Cipher::aes_256_cbc(), openssl::symm::Mode::Encrypt, &session, Some(&iv)).unwrap();
    crypter.pad(false);
    let mut body = vec![0u8; padded.len() + 16];
    let mut written = crypter.update(&padded, &mut body).unwrap();
    written += crypter.finalize(&mut body[written..]).unwrap();
    body.truncate(written);
    let data = STANDARD.encode([iv.as_slice(), &body].concat());
    let key = STANDARD.encode(&wrapped);
    let element = format!(
        r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/><xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#
    );
    format!("{}{element}{}", &signed[..start], &signed[end..])
}
