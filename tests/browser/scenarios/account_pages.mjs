// The account page (/account): the demo user (no second factor yet) signs in through the
// console, adds a passkey with a CDP virtual authenticator, then an authenticator app (the API
// asks for a fresh sign-in with the passkey first), mistypes and then types its code, renames
// it, makes new recovery codes, removes the passkey after a confirmation, downloads their data
// and signs out.

import { submitPassword } from '../flows.mjs';

/** Signs in at the console's sign-in page: the password, and the passkey when it is asked for. */
async function consoleSignIn(ctx, page, user) {
  await submitPassword(page, user);
  if ((await page.locator('h1').innerText()).trim() === 'Two-step verification') {
    await ctx.clickAndWait(page, page.getByRole('button', { name: 'Use your passkey' }));
  }
}

export default async function (ctx) {
  const { page, assert } = ctx;
  const demo = ctx.user('demo');
  const authenticator = await ctx.addVirtualAuthenticator(page);

  await page.goto(ctx.url('/account'));
  await ctx.expectHeading(page, 'Sign in');
  assert.match(await page.locator('main').innerText(), /Gatehouse console/);
  await consoleSignIn(ctx, page, demo);
  await ctx.expectHeading(page, 'Your account');
  assert.match(await page.locator('main').innerText(), /You have not set up a second step yet\./);
  assert.ok(await page.getByRole('link', { name: 'Admin console' }).isVisible(), 'the demo user administers the demo tenant');
  await ctx.visit(page, 'account');

  // A passkey, through the real browser ceremony (static/webauthn.js).
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Add a passkey' }));
  await ctx.expectHeading(page, 'Your account');
  assert.equal((await page.locator('#flash').innerText()).trim(), 'The method was added.');
  assert.equal((await authenticator.credentials()).length, 1);
  await ctx.visit(page, 'account-passkey-added');

  // The password-only sign-in is not enough to add another method now that one exists: the
  // console signs in again with the passkey and comes back.
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Add an authenticator app' }));
  await ctx.expectHeading(page, 'Sign in');
  await ctx.visit(page, 'account-step-up-login');
  await submitPassword(page, demo);
  await ctx.expectHeading(page, 'Two-step verification');
  await ctx.visit(page, 'account-step-up-factor');
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Use your passkey' }));
  await ctx.expectHeading(page, 'Your account');
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Add an authenticator app' }));
  await ctx.expectHeading(page, 'Set up an authenticator app');
  const secret = (await page.locator('#totp-secret').innerText()).trim();
  assert.ok(await page.getByRole('img', { name: /QR code/ }).isVisible());
  await ctx.visit(page, 'account-totp-setup');
  await page.getByLabel('Code from your authenticator app').fill(ctx.wrongTotp(secret));
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Confirm' }));
  await ctx.expectHeading(page, 'Set up an authenticator app');
  assert.equal((await page.locator('#totp-secret').innerText()).trim(), secret, 'the same key after a wrong code');
  assert.ok(await page.getByRole('alert').isVisible());
  await ctx.visit(page, 'account-totp-wrong-code');
  await page.getByLabel('Code from your authenticator app').fill(ctx.totp(secret));
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Confirm' }));
  await ctx.expectHeading(page, 'Your account');
  assert.equal((await page.locator('#flash').innerText()).trim(), 'The method was added.');

  // Rename the authenticator app.
  const appRow = page.getByRole('row', { name: /Authenticator app/ }).first();
  await appRow.getByRole('textbox').fill('Work phone');
  await ctx.clickAndWait(page, appRow.getByRole('button', { name: 'Rename' }));
  assert.equal((await page.locator('#flash').innerText()).trim(), 'Renamed.');
  assert.ok(await page.getByRole('row', { name: /Work phone/ }).isVisible());

  // New recovery codes, shown once.
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Make new recovery codes' }));
  assert.equal(await page.getByRole('list', { name: 'Your new recovery codes' }).getByRole('listitem').count(), 10);
  await ctx.visit(page, 'account-recovery-codes');
  await page.reload();
  assert.equal(await page.getByRole('list', { name: 'Your new recovery codes' }).count(), 0, 'shown once');

  // Remove the passkey, after a confirmation page.
  await ctx.clickAndWait(page, page.getByRole('link', { name: 'Remove Passkey' }));
  await ctx.expectHeading(page, 'Remove a sign-in method');
  await ctx.visit(page, 'account-remove');
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Remove this method' }));
  await ctx.expectHeading(page, 'Your account');
  assert.equal((await page.locator('#flash').innerText()).trim(), 'The method was removed.');
  assert.equal(await page.getByRole('link', { name: 'Remove Passkey' }).count(), 0);
  await ctx.visit(page, 'account-after-changes');

  // "Download my data" is a JSON attachment with the person's own email.
  const link = page.getByRole('link', { name: 'Download my data' });
  assert.equal(await link.getAttribute('download'), '');
  const download = await page.request.get(ctx.url('/account/personal-data'));
  assert.equal(download.status(), 200);
  assert.match(download.headers()['content-disposition'], /^attachment/);
  assert.match(await download.text(), new RegExp(demo.email.replace('.', '\\.')));

  // Sign out: the console forgets its token and the SSO session ends after confirmation.
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Sign out', exact: true }));
  await ctx.visit(page, 'logout-confirm');
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Sign out', exact: true }));
  await ctx.visit(page, 'after-logout');
  await page.goto(ctx.url('/account'));
  await ctx.expectHeading(page, 'Sign in');
}
