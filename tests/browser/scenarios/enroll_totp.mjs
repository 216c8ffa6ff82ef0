// The enrollment wizard: Carol's domain (globex.test) requires 2FA and she has none, so after
// her password she sets up an authenticator app: the test reads the key printed under the QR
// code, types a wrong code, then the right one, sees ten recovery codes once (a reload shows
// none), and continues back to the demo application. Signing in again asks for the new factor.

import { demoClaims, signOutOfDemo, startAtDemo, submitPassword, submitTotp } from '../flows.mjs';

export default async function (ctx) {
  const { page, assert } = ctx;
  const carol = ctx.user('carol');

  await startAtDemo(ctx, page);
  await ctx.visit(page, 'login');
  await submitPassword(page, carol);
  await ctx.expectHeading(page, 'Set up two-step verification');
  await ctx.visit(page, 'enroll');

  // The QR code is an image the page's CSP allows (a data: URI) and actually decodes.
  const qr = page.getByRole('img', { name: /QR code for your authenticator app/ });
  assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR code renders');
  const secret = (await page.locator('#totp-secret').innerText()).trim();
  assert.match(secret, /^[A-Z2-7 ]{16,}$/, `a base32 key is shown: ${secret}`);
  const codeField = page.getByLabel('Code from your authenticator app');
  const turnOn = page.getByRole('button', { name: 'Turn on two-step verification' });

  await codeField.fill(ctx.wrongTotp(secret));
  await ctx.clickAndWait(page, turnOn);
  await ctx.expectHeading(page, 'Set up two-step verification');
  assert.match(await page.locator('#form-error').innerText(), /not correct/);
  assert.equal((await page.locator('#totp-secret').innerText()).trim(), secret, 'the same key after a wrong code');
  await ctx.visit(page, 'enroll-wrong-code');

  await codeField.fill(ctx.totp(secret));
  await ctx.clickAndWait(page, turnOn);
  await ctx.expectHeading(page, 'Save your recovery codes');
  const codes = await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
  assert.equal(codes.length, 10, `ten recovery codes: ${codes}`);
  assert.equal(new Set(codes).size, 10, 'all different');
  await ctx.visit(page, 'recovery-codes');

  // Shown once: the wizard's page again (a reload, another tab) only offers to continue.
  const request = await page.locator('input[name=request]').first().inputValue();
  await page.goto(ctx.url(`/login/enroll?request=${encodeURIComponent(request)}`));
  await ctx.expectHeading(page, 'Save your recovery codes');
  assert.equal(await page.getByRole('listitem').count(), 0, 'no codes the second time');
  assert.match(await page.locator('main').innerText(), /shown once/);
  await ctx.visit(page, 'recovery-codes-again');

  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Continue' }));
  const claims = await demoClaims(page);
  await ctx.visit(page, 'claims');
  assert.equal(claims.email, carol.email);
  assert.equal(claims.acr, 'urn:gatehouse:acr:mfa');
  assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);

  // Next time Carol is asked for the factor she set up. The enrollment spent the current
  // 30-second step, so her app's next code (within the server's one step of drift) is used.
  await signOutOfDemo(page);
  await ctx.clickAndWait(page, page.getByRole('link', { name: 'Sign in with Gatehouse' }));
  await submitPassword(page, carol);
  await ctx.expectHeading(page, 'Two-step verification');
  await ctx.visit(page, 'factor');
  await submitTotp(page, ctx.totp(secret, { steps: 1 }));
  assert.equal((await demoClaims(page)).email, carol.email);
  await ctx.visit(page, 'claims');
}
