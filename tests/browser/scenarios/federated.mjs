// Sign-in through a company's own identity provider: Nora (nora@fed.test, a domain bound to Fed
// Oy's provider, node's oidc-provider on loopback) starts at the demo application, types her
// email on the first step, leaves for her company's sign-in (the page that leaves is checked with
// its script held back, then left by its link), comes back signed in with an account created
// just in time, and the ID token names the provider. Signing out at Gatehouse offers the
// provider's own sign-out; the operator reads the provider in the admin console.

import { continueWithEmail, demoClaims, startAtDemo, submitPassword } from '../flows.mjs';

export default async function (ctx) {
  const { page, assert } = ctx;
  const nora = ctx.user('nora');

  await startAtDemo(ctx, page);
  await ctx.expectHeading(page, 'Sign in');
  assert.equal(await page.getByLabel('Password').count(), 0, 'the first step asks for the email alone');
  await ctx.visit(page, 'login-email-step');

  // Hold the leaving page's script back once, to check the page itself and its link.
  let held = false;
  await page.route('**/static/continue.js', (route) => {
    if (held) return route.continue();
    held = true;
    return route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body: '' });
  });
  await continueWithEmail(page, nora.email);
  await ctx.expectHeading(page, "Continuing to your organisation's sign-in");
  await ctx.visit(page, 'leaving-for-the-provider');
  await ctx.clickAndWait(page, page.getByRole('link', { name: 'Sign in with Fed Oy staff' }));
  await page.unroute('**/static/continue.js');

  const claims = await demoClaims(page);
  assert.equal(claims.email, nora.email);
  assert.match(String(claims.idp), /\/corp$/, 'the ID token names the provider');
  assert.equal(claims.acr, 'urn:gatehouse:acr:pwd');
  await ctx.visit(page, 'claims');

  // Signing out at Gatehouse itself: the provider's own sign-out is offered.
  await page.goto(ctx.url('/logout'));
  await ctx.expectHeading(page, 'Sign out?');
  await ctx.visit(page, 'logout-confirm');
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Sign out' }));
  const link = page.getByRole('link', { name: 'Also sign out of Fed Oy staff' });
  assert.ok(await link.isVisible(), 'the provider sign-out is offered');
  assert.match(await link.getAttribute('href'), /\/session\/end\?client_id=gatehouse$/);
  await ctx.visit(page, 'signed-out-with-provider');

  // The operator (the demo user) reads Fed Oy's provider in the admin console: the redirect
  // URI to register at it, never its secret.
  const operator = ctx.user('demo');
  const admin = await ctx.newPage();
  await admin.goto(ctx.url('/admin'));
  await ctx.expectHeading(admin, 'Sign in');
  await submitPassword(admin, operator);
  await ctx.clickAndWait(admin, admin.getByRole('link', { name: 'Fed Oy' }));
  await ctx.expectHeading(admin, 'Fed Oy');
  const section = admin.locator('section', { has: admin.getByRole('heading', { name: 'Identity providers' }) });
  assert.match(await section.innerText(), /\/login\/federated\/callback/);
  assert.match(await section.innerText(), /Fed Oy staff/);
  await ctx.visit(admin, 'admin-tenant-with-provider');
}
