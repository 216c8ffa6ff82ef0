// Passkeys with a CDP virtual authenticator (a platform authenticator with user verification):
// Frank's domain (hooli.test) requires a security key or passkey and he has none, so after his
// password the wizard offers only those; he registers a passkey (static/webauthn.js runs the
// real browser ceremony), sees his recovery codes, and reaches the demo application. Signed
// out, he signs in with "Sign in with a passkey" and no password; signed out again, he signs
// in with his password and uses the passkey as the second factor.

import { DEMO_HOME, demoClaims, signOutOfDemo, startAtDemo, submitPassword } from '../flows.mjs';

export default async function (ctx) {
  const { page, assert } = ctx;
  const frank = ctx.user('frank');
  const authenticator = await ctx.addVirtualAuthenticator(page);

  await startAtDemo(ctx, page);
  await ctx.expectHeading(page, 'Sign in');
  await ctx.visit(page, 'login');
  await submitPassword(page, frank);
  await ctx.expectHeading(page, 'Set up two-step verification');
  assert.equal(await page.locator('#totp-secret').count(), 0, 'the domain allows no authenticator app');
  assert.ok(await page.getByRole('button', { name: 'Set up a security key' }).isVisible());
  await ctx.visit(page, 'enroll-webauthn');

  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Set up a passkey' }));
  await ctx.expectHeading(page, 'Save your recovery codes');
  assert.equal(await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').count(), 10);
  await ctx.visit(page, 'recovery-codes');
  const credentials = await authenticator.credentials();
  assert.equal(credentials.length, 1, 'the authenticator holds the new credential');
  assert.equal(credentials[0].rpId, new URL(ctx.baseUrl).hostname);
  assert.ok(credentials[0].isResidentCredential, 'a passkey is discoverable');

  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Continue' }));
  let claims = await demoClaims(page);
  await ctx.visit(page, 'claims');
  assert.equal(claims.email, frank.email);
  assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
  assert.match(claims.acr, /^phr/, 'phishing-resistant');

  // Without a password: the passkey names the account and proves two factors.
  await signOutOfDemo(page);
  await ctx.clickAndWait(page, page.getByRole('link', { name: 'Sign in with Gatehouse' }));
  await ctx.expectHeading(page, 'Sign in');
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Sign in with a passkey' }));
  claims = await demoClaims(page);
  assert.equal(claims.email, frank.email);
  assert.deepEqual(claims.amr, ['hwk', 'mfa'], 'no password was used');

  // As the second factor after the password.
  await signOutOfDemo(page);
  await ctx.expectHeading(page, DEMO_HOME);
  await ctx.clickAndWait(page, page.getByRole('link', { name: 'Sign in with Gatehouse' }));
  await submitPassword(page, frank);
  await ctx.expectHeading(page, 'Two-step verification');
  await ctx.visit(page, 'factor-webauthn');
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Use your passkey' }));
  claims = await demoClaims(page);
  assert.equal(claims.email, frank.email);
  assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
  const after = await authenticator.credentials();
  assert.ok(after[0].signCount >= 2, `the authenticator signed twice (sign count ${after[0].signCount})`);
}
