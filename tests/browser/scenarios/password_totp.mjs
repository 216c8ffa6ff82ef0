// Password + authenticator app: Dave (globex.test requires 2FA; he has an authenticator app)
// signs in to the demo application, mistyping his password and then his code once on the way,
// lands back at the application with an ID token saying two factors were used, and signs out.

import { continueWithEmail, demoClaims, signOutOfDemo, startAtDemo, submitPassword, submitTotp } from '../flows.mjs';

export default async function (ctx) {
  const { page, assert } = ctx;
  const dave = ctx.user('dave');

  await startAtDemo(ctx, page);
  await ctx.expectHeading(page, 'Sign in');
  assert.match(await page.locator('main').innerText(), /to continue to\s+Demo application/);
  await ctx.visit(page, 'login');

  // The first step asks for the email alone; the password step carries it (read-only, for
  // password managers) with a way back.
  await continueWithEmail(page, dave.email);
  assert.equal(await page.getByLabel('Email').inputValue(), dave.email);
  assert.equal(await page.getByLabel('Email').getAttribute('readonly'), '');
  assert.ok(await page.getByRole('link', { name: 'Use another email address' }).isVisible());
  await ctx.visit(page, 'login-password-step');

  // A wrong password: the same page, a message, the email kept and the focus on the password.
  await submitPassword(page, dave, 'not the password');
  await ctx.expectHeading(page, 'Sign in');
  assert.equal((await page.getByRole('alert').innerText()).trim(), 'The email address or password is incorrect.');
  assert.equal(await page.getByLabel('Email').inputValue(), dave.email);
  assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  await ctx.visit(page, 'login-wrong-password');

  await submitPassword(page, dave);
  await ctx.expectHeading(page, 'Two-step verification');
  assert.equal(await page.getByLabel('Code from your authenticator app').getAttribute('autocomplete'), 'one-time-code');
  await ctx.visit(page, 'factor');

  // A wrong code is refused on the page, with the tries left.
  await submitTotp(page, ctx.wrongTotp(dave.totp));
  await ctx.expectHeading(page, 'Two-step verification');
  assert.match(await page.locator('#form-error').innerText(), /not correct/);
  await ctx.visit(page, 'factor-wrong-code');

  await submitTotp(page, ctx.totp(dave.totp));
  const claims = await demoClaims(page);
  await ctx.visit(page, 'claims');
  assert.equal(claims.email, dave.email);
  assert.equal(claims.acr, 'urn:gatehouse:acr:mfa');
  assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);

  // Signing out ends the Gatehouse session: the next sign-in asks for the password again.
  await signOutOfDemo(page);
  await ctx.visit(page, 'demo-home');
  await ctx.clickAndWait(page, page.getByRole('link', { name: 'Sign in with Gatehouse' }));
  await ctx.expectHeading(page, 'Sign in');
  await ctx.visit(page, 'login');
}
