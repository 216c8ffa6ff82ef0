// Security keys and passkeys: a form marked data-webauthn="get" (sign in) or "create"
// (register) asks the server for options (data-options, posting the form's own fields),
// runs the browser ceremony, and submits the result in the form's `credential` field.
// Served as a file: the CSP allows no inline script.
"use strict";

(function () {
  const b64urlToBytes = (s) => {
    const pad = "=".repeat((4 - (s.length % 4)) % 4);
    const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  };
  const bytesToB64url = (buf) => {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  function decodeOptions(kind, options) {
    const pk = options.publicKey;
    pk.challenge = b64urlToBytes(pk.challenge);
    if (kind === "create") {
      pk.user.id = b64urlToBytes(pk.user.id);
      (pk.excludeCredentials || []).forEach((c) => { c.id = b64urlToBytes(c.id); });
    } else {
      (pk.allowCredentials || []).forEach((c) => { c.id = b64urlToBytes(c.id); });
    }
    return options;
  }

  function encodeCredential(cred) {
    const r = cred.response;
    const response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bytesToB64url(r.attestationObject);
    } else {
      response.authenticatorData = bytesToB64url(r.authenticatorData);
      response.signature = bytesToB64url(r.signature);
      response.userHandle = r.userHandle ? bytesToB64url(r.userHandle) : null;
    }
    return JSON.stringify({
      id: cred.id,
      rawId: bytesToB64url(cred.rawId),
      type: cred.type,
      response: response,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    });
  }

  function showError(message) {
    const el = document.getElementById("webauthn-error");
    if (el) { el.textContent = message; el.hidden = false; el.focus(); }
  }

  // The page's own texts (data-* on #webauthn-error, from the message catalogue); English
  // where a page does not give them.
  function text(name, english) {
    const el = document.getElementById("webauthn-error");
    return (el && el.dataset[name]) || english;
  }

  // Offer security keys and passkeys only where the browser has WebAuthn.
  if (!window.PublicKeyCredential) {
    document.querySelectorAll("form[data-webauthn]").forEach((form) => { form.hidden = true; });
    return;
  }

  document.querySelectorAll("form[data-webauthn]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      if (form.elements.credential.value) return;
      event.preventDefault();
      if (!window.PublicKeyCredential) {
        showError(text("unsupported", "This browser does not support security keys or passkeys."));
        return;
      }
      const kind = form.dataset.webauthn;
      try {
        const body = new URLSearchParams(new FormData(form));
        const reply = await fetch(form.dataset.options, { method: "POST", body: body, credentials: "same-origin" });
        const options = await reply.json();
        // The server wants a fresh sign-in first (the account page): go there.
        if (options.redirect) {
          const target = new URL(options.redirect, window.location.href);
          if (target.origin === window.location.origin) { window.location.assign(target.href); return; }
        }
        if (!reply.ok) { showError(options.error || text("failed", "Something went wrong; try again.")); return; }
        const decoded = decodeOptions(kind, options);
        const cred = kind === "create"
          ? await navigator.credentials.create(decoded)
          : await navigator.credentials.get(decoded);
        form.elements.credential.value = encodeCredential(cred);
        form.submit();
      } catch (e) {
        showError(text("notUsed", "The security key or passkey was not used. Try again, or choose another method."));
      }
    });
  });
})();
