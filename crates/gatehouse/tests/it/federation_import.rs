//! Identity providers in import files: what a valid one is (each refusal names the field and
//! line), the client secret read from a file beside the import
//! and stored sealed, and importing the same file twice changing nothing.

use crate::support::app::{TempDir, cli, read_only_db};

const ARGON: [&str; 4] = ["--password-memory-kib", "64", "--password-iterations", "1"];

/// A tenant with one provider; `provider` is the provider table's body.
fn file(provider: &str) -> String {
    format!(
        "[[tenant]]\nname = \"Fed Oy\"\ndomains = [\"fed.test\", \"fed-too.test\"]\n  [[tenant.identity_provider]]\n  id = \"corp\"\n  name = \"Fed Oy staff\"\n{provider}"
    )
}

const GOOD: &str = "  issuer = \"https://login.fed.test\"\n  client_id = \"gatehouse\"\n  client_secret_file = \"secrets/corp\"\n  domains = [\"fed.test\"]\n  provisioning = \"jit\"\n";

/// A SAML IdP's metadata with `keys` (KeyDescriptor elements) and a SingleSignOnService.
fn saml_metadata(keys: &str) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://adfs.fed.test/adfs/services/trust"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://adfs.fed.test/adfs/ls/"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

fn import(dir: &TempDir, name: &str, text: &str) -> (bool, String, String) {
    let path = dir.file(name, text);
    let mut args = vec!["import", path.to_str().unwrap()];
    args.extend(ARGON);
    cli(&dir.path().join("data"), &args)
}

#[tokio::test]
async fn a_provider_is_imported_with_its_secret_from_a_file_sealed_and_once() {
    let dir = TempDir::new("fed-import");
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    let secret = "a-provider-secret-nobody-may-read-0123456789";
    dir.file("secrets/corp", &format!("{secret}\n"));
    let (ok, out, err) = import(&dir, "fed.toml", &file(GOOD));
    assert!(ok, "{err}");
    assert!(out.contains("1 created, 1 updated, 0 unchanged"), "the tenant and its provider: {out}");
    let (ok, again, _) = import(&dir, "fed.toml", &file(GOOD));
    assert!(ok && again.contains("0 created, 0 updated, 2 unchanged"), "importing twice changes nothing: {again}");

    let db = read_only_db(&dir.path().join("data")).await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT client_secret FROM identity_providers").fetch_one(&db).await.unwrap();
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is sealed");
    let config: String = sqlx::query_scalar("SELECT config FROM identity_providers").fetch_one(&db).await.unwrap();
    assert!(!config.contains(secret) && config.contains("https://login.fed.test"));
}

#[tokio::test]
async fn an_invalid_provider_is_refused_naming_its_field_and_line() {
    let dir = TempDir::new("fed-import-bad");
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    dir.file("secrets/corp", "a-secret");
    dir.file("no-cert.xml", &saml_metadata(""));
    dir.file("dtd.xml", &format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}", saml_metadata("")));
    let saml = |file: &str| format!("  protocol = \"saml\"\n  metadata_file = \"{file}\"\n  domains = [\"fed.test\"]\n");
    let cases: [(&str, String, &str); 12] = [
        ("saml with client settings", format!("  protocol = \"saml\"\n{GOOD}"), "for OpenID Connect"),
        ("IdP-initiated sign-in over OpenID Connect", format!("  allow_idp_initiated = true\n{GOOD}"), "IdP-initiated sign-in is for protocol = \"saml\""),
        ("saml without a signing certificate", saml("no-cert.xml"), "no signing certificate"),
        ("saml metadata with a DTD", saml("dtd.xml"), "DTD"),
        ("saml without metadata", "  protocol = \"saml\"\n  domains = [\"fed.test\"]\n".into(), "metadata_file or metadata_url"),
        ("foreign domain", GOOD.replace("[\"fed.test\"]", "[\"other.test\"]"), "not one of the tenant's domains"),
        ("no secret", GOOD.replace("  client_secret_file = \"secrets/corp\"\n", ""), "confidential client"),
        ("missing secret file", GOOD.replace("secrets/corp", "secrets/absent"), "secrets/absent"),
        ("plain http", GOOD.replace("https://login.fed.test", "http://login.fed.test"), "loopback"),
        ("a MAC", format!("  algorithms = [\"HS256\"]\n{GOOD}"), "must be among"),
        ("entra without its directory", format!("  preset = \"entra\"\n{}", GOOD.replace("  issuer = \"https://login.fed.test\"\n", "")), "directory"),
        ("unknown field", format!("  colour = \"blue\"\n{GOOD}"), "unknown field `colour`"),
    ];
    for (what, body, expected) in cases {
        let (ok, _, err) = import(&dir, "bad.toml", &file(&body));
        assert!(!ok, "{what}: refused");
        assert!(err.contains(expected) && err.contains("line "), "{what}: {err}");
    }
    let twice = format!(
        "{}  [[tenant.identity_provider]]\n  id = \"second\"\n  name = \"Second\"\n{}",
        file(&GOOD.replace("client_secret_file = \"secrets/corp\"", "client_secret = \"s\"")),
        GOOD.replace("client_secret_file = \"secrets/corp\"", "client_secret = \"s\"")
    );
    let (ok, _, err) = import(&dir, "twice.toml", &twice);
    assert!(!ok && err.contains("bound to another provider"), "a domain signs in at one provider: {err}");
}
