"""A company's own SAML 2.0 identity provider for Gatehouse's federation tests: pysaml2, an
implementation independent of Gatehouse's (samael), signing with the xmlsec1 tool.

There is no login form: a request signs in the account named by `login_hint` (or the first
account) at once and answers with a page whose form posts the response to Gatehouse's ACS.
What each account asserts comes from ACCOUNTS:
  {"ann@fed.test": {"name_id": "ann-1", "attributes": {"mail": ["ann@fed.test"]},
                    "authn_context": "...PasswordProtectedTransport",
                    "step_up_authn_context": "http://schemas.microsoft.com/claims/multipleauthn"}}
`step_up_authn_context` is asserted when the request carries a RequestedAuthnContext.

Test hooks (loopback only, for the tests' eyes):
  GET /metadata        the IdP's metadata (its signing certificate, SSO over Redirect and POST)
  GET /idp-initiated?account=EMAIL
                       an unsolicited answer for the account (no InResponseTo), as a portal's
                       tile sends it, in a page whose form posts it to Gatehouse's ACS
  GET /test/requests   every AuthnRequest received, oldest first (id, force_authn, contexts)
  PUT /test/accounts   replaces ACCOUNTS
  PUT /test/next       how the next answer is made (wrong), once: {"sign": "none" | "response" |
                       "both" | "other_key" | "sha1", "audience": "...", "lifetime_minutes": -10,
                       "assertion_id": "...", "in_response_to": "...",
                       "encrypt": "aes256-cbc" | "aes128-gcm" | ... (to the certificate Gatehouse's
                       SP metadata publishes, by the xmlsec1 tool), "encrypt_to": "other"}

Env: PORT, SP_ENTITY_ID, SP_ACS, ACCOUNTS (JSON). Prints "listening PORT" when ready.
"""

import base64
import html
import json
import os
import re
import subprocess
import textwrap
import urllib.request
import sys
import tempfile
import warnings
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

warnings.filterwarnings("ignore")

import saml2.assertion  # noqa: E402
import saml2.xmldsig as ds  # noqa: E402
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT  # noqa: E402
from saml2.config import IdPConfig  # noqa: E402
from saml2.metadata import entity_descriptor  # noqa: E402
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID  # noqa: E402
from saml2.server import Server  # noqa: E402
from saml2.sigver import pre_encryption_part  # noqa: E402

PORT = int(os.environ.get("PORT", "0"))
BASE = f"http://127.0.0.1:{PORT}"
SP_ENTITY_ID = os.environ["SP_ENTITY_ID"]
SP_ACS = os.environ["SP_ACS"]
ACCOUNTS = json.loads(os.environ.get("ACCOUNTS", "{}"))
REQUESTS = []
NEXT = {}
WORK = tempfile.mkdtemp(prefix="saml-idp-")
PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"


def keypair(name):
    key, cert = os.path.join(WORK, f"{name}.key"), os.path.join(WORK, f"{name}.crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}"],
        check=True,
        capture_output=True,
    )
    return key, cert


SP_METADATA = os.path.join(WORK, "sp.xml")
with open(SP_METADATA, "w") as f:
    f.write(
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{html.escape(SP_ENTITY_ID)}">'
        '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location="{html.escape(SP_ACS)}" index="0"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )
KEYS = {"idp": keypair("idp"), "other": keypair("other")}


def server(keys="idp", lifetime_minutes=None):
    key, cert = KEYS[keys]
    conf = {
        "entityid": f"{BASE}/metadata",
        "service": {
            "idp": {
                "endpoints": {"single_sign_on_service": [(f"{BASE}/sso/redirect", BINDING_HTTP_REDIRECT), (f"{BASE}/sso/post", BINDING_HTTP_POST)]},
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "want_authn_requests_signed": False,
            }
        },
        "key_file": key,
        "cert_file": cert,
        "metadata": {"local": [SP_METADATA]},
        "xmlsec_binary": "/usr/bin/xmlsec1",
    }
    if lifetime_minutes is not None:
        conf["service"]["idp"]["policy"] = {"default": {"lifetime": {"minutes": lifetime_minutes}}}
    config = IdPConfig()
    config.load(conf)
    return Server(config=config)


IDP = server()


def answer(request_id, account, step_up):
    """The signed response for `account`, made wrong as NEXT says (once)."""
    global NEXT
    options, NEXT = NEXT, {}
    sign = options.get("sign", "assertion")
    idp = server("other" if sign == "other_key" else "idp", options.get("lifetime_minutes"))
    sha = ds.SIG_RSA_SHA1 if sign == "sha1" else ds.SIG_RSA_SHA256
    digest = ds.DIGEST_SHA1 if sign == "sha1" else ds.DIGEST_SHA256
    context = account.get("step_up_authn_context") if step_up else None
    fixed_id = options.get("assertion_id")
    original = saml2.assertion.assertion_factory

    def with_fixed_id(**kwargs):
        made = original(**kwargs)
        if fixed_id:
            made.id = fixed_id
        return made

    saml2.assertion.assertion_factory = with_fixed_id
    try:
        xml = idp.create_authn_response(
            identity=account.get("attributes", {}),
            in_response_to=options.get("in_response_to", request_id),
            destination=SP_ACS,
            sp_entity_id=options.get("audience", SP_ENTITY_ID),
            name_id=NameID(format=account.get("name_id_format", NAMEID_FORMAT_PERSISTENT), text=account["name_id"]),
            authn={"class_ref": context or account.get("authn_context", PASSWORD)},
            sign_assertion=sign in ("assertion", "both", "other_key", "sha1"),
            sign_response=sign in ("response", "both"),
            sign_alg=sha,
            digest_alg=digest,
        )
    finally:
        saml2.assertion.assertion_factory = original
    xml = str(xml)
    if options.get("encrypt"):
        xml = encrypt(xml, options["encrypt"], options.get("encrypt_to", "sp"))
    return base64.b64encode(xml.encode()).decode()


# XML Encryption's content algorithms and the xmlsec1 session key each needs.
ENCRYPTION = {
    "aes128-cbc": ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", "aes-128"),
    "aes256-cbc": ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256"),
    "aes128-gcm": ("http://www.w3.org/2009/xmlenc11#aes128-gcm", "aes-128"),
    "aes256-gcm": ("http://www.w3.org/2009/xmlenc11#aes256-gcm", "aes-256"),
    "tripledes-cbc": ("http://www.w3.org/2001/04/xmlenc#tripledes-cbc", "des-192"),
}


def certificate_base64(to):
    """The certificate to encrypt to: Gatehouse's, as its SP metadata publishes it, or another."""
    if to == "other":
        with open(KEYS["other"][1]) as f:
            return "".join(line for line in f.read().splitlines() if "CERTIFICATE" not in line)
    with urllib.request.urlopen(SP_ENTITY_ID, timeout=5) as response:
        metadata = response.read().decode()
    found = re.search(r'<md:KeyDescriptor use="encryption">.*?<ds:X509Certificate>([^<]+)</ds:X509Certificate>', metadata, re.S)
    return found.group(1).strip()


def encrypt(xml, content, to):
    """The signed response with its assertion encrypted by the xmlsec1 tool (RSA-OAEP)."""
    uri, session_key = ENCRYPTION[content]
    cert = certificate_base64(to)
    pem = os.path.join(WORK, "encrypt-to.crt")
    with open(pem, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n" + "\n".join(textwrap.wrap(cert, 64)) + "\n-----END CERTIFICATE-----\n")
    found = re.search(r"<(\w*:?)Assertion[\s>].*</\1Assertion>", xml, re.S)
    prefix = found.group(1)
    declare = f"xmlns:{prefix[:-1]}" if prefix else "xmlns"
    wrapped = (
        xml[: found.start()]
        + f'<{prefix}EncryptedAssertion {declare}="urn:oasis:names:tc:SAML:2.0:assertion">'
        + found.group(0)
        + f"</{prefix}EncryptedAssertion>"
        + xml[found.end() :]
    )
    template = pre_encryption_part(msg_enc=uri, encrypt_cert=cert)
    xpath = "//*[local-name()='EncryptedAssertion']/*[local-name()='Assertion']"
    return IDP.sec.encrypt_assertion(wrapped, pem, template, key_type=session_key, node_xpath=xpath)


def form(saml_response, relay_state):
    return (
        "<!doctype html><html><head><title>Signing you in</title></head><body>"
        f'<form method="post" action="{html.escape(SP_ACS)}">'
        f'<input type="hidden" name="SAMLResponse" value="{saml_response}">'
        f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">'
        '<button type="submit">Continue</button></form>'
        "<script>document.forms[0].submit()</script></body></html>"
    )


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, body, content_type="text/html; charset=utf-8"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return self.rfile.read(int(self.headers.get("content-length", "0")))

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/metadata":
            return self.send(200, str(entity_descriptor(IDP.config)), "application/samlmetadata+xml")
        if url.path == "/idp-initiated":
            query = parse_qs(url.query)
            account = ACCOUNTS.get(query.get("account", [""])[0])
            if account is None:
                return self.send(404, "no account")
            return self.send(200, form(answer(None, account, False), query.get("relay_state", [""])[0]))
        if url.path == "/test/requests":
            return self.send(200, json.dumps(REQUESTS), "application/json")
        if url.path == "/sso/redirect":
            query = parse_qs(url.query)
            return self.sso(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT, query.get("RelayState", [""])[0], query.get("login_hint", [None])[0])
        self.send(404, "not found")

    def do_POST(self):
        if self.path == "/sso/post":
            fields = parse_qs(self.body().decode())
            return self.sso(fields["SAMLRequest"][0], BINDING_HTTP_POST, fields.get("RelayState", [""])[0], None)
        self.send(404, "not found")

    def do_PUT(self):
        global ACCOUNTS, NEXT
        if self.path == "/test/accounts":
            ACCOUNTS = json.loads(self.body())
        elif self.path == "/test/next":
            NEXT = json.loads(self.body())
        else:
            return self.send(404, "not found")
        self.send_response(204)
        self.end_headers()

    def sso(self, saml_request, binding, relay_state, login_hint):
        parsed = IDP.parse_authn_request(saml_request, binding).message
        contexts = []
        if parsed.requested_authn_context is not None:
            contexts = [c.text for c in parsed.requested_authn_context.authn_context_class_ref]
        REQUESTS.append(
            {
                "id": parsed.id,
                "binding": binding,
                "issuer": parsed.issuer.text if parsed.issuer is not None else None,
                "acs": parsed.assertion_consumer_service_url,
                "force_authn": parsed.force_authn,
                "contexts": contexts,
                "login_hint": login_hint,
                "relay_state": relay_state,
            }
        )
        name = login_hint if login_hint in ACCOUNTS else next(iter(ACCOUNTS), None)
        if name is None:
            return self.send(403, "no account")
        self.send(200, form(answer(parsed.id, ACCOUNTS[name], bool(contexts)), relay_state))


if __name__ == "__main__":
    httpd = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print(f"listening {PORT}", flush=True)
    sys.stdout.flush()
    httpd.serve_forever()
