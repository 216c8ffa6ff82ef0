// What a person can do wrong in a browser must end on a page they can act on (HTML, a heading
// and a sentence; no 500, no raw JSON, no blank page):
//   1. hidden fields changed before submitting: the CSRF token, the parked request's id, a
//      forged passkey credential;
//   2. the password form submitted twice: a fast double click, and the same form posted again
//      after the first submission had signed the person in (a late second click, a resubmission);
//   3. a tampered code in the application's callback URL;
//   4. the back button after a completed sign-in, and forward again to the application.
// Bob (acme.test, no 2FA) signs in with his password alone.

import { continueWithEmail, demoClaims, startAtDemo, submitPassword } from '../flows.mjs';

/** Sets a hidden input of the page before a submission, as a tamperer would. */
async function tamper(page, selector, value) {
  await page.locator(selector).first().evaluate((input, v) => {
    input.value = v;
  }, value);
}

/** Posts `fields` to `action` from the page shown, as a browser resubmitting a form does. */
async function postForm(page, action, fields) {
  await page.evaluate(
    ([target, values]) => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = target;
      for (const [name, value] of Object.entries(values)) {
        const input = document.createElement('input');
        input.type = 'hidden';
        input.name = name;
        input.value = value;
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    },
    [action, fields],
  );
}

export default async function (ctx) {
  const { page, assert } = ctx;
  const bob = ctx.user('bob');
  let shown;

  // 1. Tampered hidden fields on the sign-in page; each refusal leaves the page usable.
  await startAtDemo(ctx, page);
  await ctx.expectHeading(page, 'Sign in');
  await ctx.visit(page, 'login');
  const loginUrl = page.url();

  await tamper(page, 'form[action="/login"] input[name=csrf_token]', 'tampered');
  await submitPassword(page, bob);
  shown = await ctx.expectFriendly(page);
  assert.equal(shown.heading, 'This form has expired');
  assert.match(shown.text, /Reload the sign-in page and try again/);
  await ctx.visit(page, 'tampered-csrf-token', { status: 400 });

  await page.goto(loginUrl);
  await ctx.expectHeading(page, 'Sign in');
  await tamper(page, 'form[action="/login"] input[name=request]', 'forged-request-id');
  await submitPassword(page, bob);
  shown = await ctx.expectFriendly(page);
  assert.equal(shown.heading, 'This sign-in page has expired');
  await ctx.visit(page, 'tampered-request', { status: 400 });

  await page.goto(loginUrl);
  await ctx.expectHeading(page, 'Sign in');
  // webauthn.js hands a form whose credential is already filled in to the browser as it is.
  await tamper(page, 'form[action="/login/passkey"] input[name=credential]', '{"id":"forged","type":"public-key"}');
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Sign in with a passkey' }));
  shown = await ctx.expectFriendly(page);
  // No passkey ceremony was started for this request, so the server calls the page expired.
  assert.equal(shown.heading, 'This sign-in page has expired');
  await ctx.visit(page, 'tampered-passkey-credential', { status: 400 });

  // 2. A fast double click on "Sign in": the form is sent once and Bob is signed in.
  const second = await ctx.newPage();
  let posts = 0;
  second.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/login') posts += 1;
  });
  await startAtDemo(ctx, second);
  await continueWithEmail(second, bob.email);
  await second.getByLabel('Password').fill(bob.password);
  const fields = await second.locator('form[action="/login"]').evaluate((form) => Object.fromEntries(new FormData(form)));
  posts = 0;
  await ctx.navigation(second, () => second.getByRole('button', { name: 'Sign in', exact: true }).dblclick());
  shown = await ctx.expectFriendly(second);
  ctx.log(`double click: ${posts} POST(s), HTTP ${ctx.documentStatus(second)} "${shown.heading}"`);
  assert.equal(posts, 1, 'the form is sent once (static/once.js), however fast the second press');
  assert.equal((await demoClaims(second)).email, bob.email);
  await ctx.visit(second, 'claims');

  // The same form posted again after the first submission completed (a second click that
  // reaches the server late, a resubmission from history): the parked request is spent.
  await second.goto(ctx.url('/demo'));
  await ctx.navigation(second, () => postForm(second, '/login', fields));
  shown = await ctx.expectFriendly(second);
  assert.equal(shown.heading, 'This sign-in page has expired');
  await ctx.visit(second, 'password-form-again', { status: 400 });

  // 3. A tampered code in the callback URL while the demo's state cookie is still set (the
  // demo application then tries to redeem it).
  const third = await ctx.newPage();
  let state = null;
  third.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname === '/authorize') state = url.searchParams.get('state');
  });
  await startAtDemo(ctx, third);
  await ctx.expectHeading(third, 'Sign in');
  assert.ok(state, 'the demo application sent a state');
  const tampered = new URL(ctx.url('/demo/callback'));
  tampered.searchParams.set('code', 'tampered-code');
  tampered.searchParams.set('state', state);
  tampered.searchParams.set('iss', ctx.baseUrl);
  await third.goto(tampered.href);
  await ctx.expectHeading(third, 'Demo sign-in failed');
  // The token endpoint's reason, in words (never a debug dump of the error value).
  await ctx.expectFriendly(third);
  assert.match(await third.locator('main').innerText(), /The token request failed: the authorization code is not valid\./);
  await ctx.visit(third, 'tampered-callback-code', { status: 400 });

  // 4. Back after a completed sign-in: the sign-in page has expired (it is never cached);
  // forward again: the demo's callback, whose state cookie was used up.
  const fourth = await ctx.newPage();
  await startAtDemo(ctx, fourth);
  await submitPassword(fourth, bob);
  assert.equal((await demoClaims(fourth)).email, bob.email);
  await ctx.visit(fourth, 'claims');
  await ctx.navigation(fourth, () => fourth.goBack());
  assert.equal(new URL(fourth.url()).pathname, '/login');
  shown = await ctx.expectFriendly(fourth);
  assert.equal(shown.heading, 'This sign-in page has expired');
  await ctx.visit(fourth, 'back-after-sign-in', { status: 400 });
  await ctx.navigation(fourth, () => fourth.goForward());
  assert.equal(new URL(fourth.url()).pathname, '/demo/callback');
  shown = await ctx.expectFriendly(fourth);
  assert.equal(shown.heading, 'Demo sign-in failed');
  assert.match(shown.text, /state cookie is missing; start again/);
  await ctx.visit(fourth, 'forward-to-callback', { status: 400 });
}
