// Gatehouse-specific steps shared by scenarios: start at the demo application (`serve --demo`),
// sign in with a password, read the demo's claims page, sign out. Each step waits for the page
// it leads to; none of them calls ctx.visit, so a scenario decides what each page is called.

import { clickAndWait, expectHeading } from './lib.mjs';

/** The demo application's home page heading. */
export const DEMO_HOME = 'Gatehouse demo application';

/** Opens /demo (visiting it as `name`) and presses "Sign in with Gatehouse". */
export async function startAtDemo(ctx, page, { name = 'demo-home' } = {}) {
  await page.goto(ctx.url('/demo'));
  await expectHeading(page, DEMO_HOME);
  await ctx.visit(page, name);
  await clickAndWait(page, page.getByRole('link', { name: 'Sign in with Gatehouse' }));
}

/**
 * On the sign-in page's first step: types the email and presses "Continue" (home-realm
 * discovery); on the password step that follows, or where the page already is: types the
 * password and presses "Sign in". Stops after "Continue" when no password step follows (a
 * refused form, or the organisation's own sign-in).
 */
export async function continueWithEmail(page, email) {
  await expectHeading(page, 'Sign in');
  await page.getByLabel('Email').fill(email);
  await clickAndWait(page, page.getByRole('button', { name: 'Continue', exact: true }));
}

/** See continueWithEmail: the whole password sign-in from either step. */
export async function submitPassword(page, user, password = user.password) {
  await expectHeading(page, 'Sign in');
  if ((await page.getByLabel('Password').count()) === 0) {
    await continueWithEmail(page, user.email);
    if ((await page.getByLabel('Password').count()) === 0) return;
  }
  await page.getByLabel('Password').fill(password);
  await clickAndWait(page, page.getByRole('button', { name: 'Sign in', exact: true }));
}

/** On the second-factor page: types an authenticator-app code and presses "Verify". */
export async function submitTotp(page, code) {
  await expectHeading(page, 'Two-step verification');
  await page.getByLabel('Code from your authenticator app').fill(code);
  await clickAndWait(page, page.getByRole('button', { name: 'Verify' }).first());
}

/**
 * The demo application's claims page, as { claim: value } (values parsed from the JSON the page
 * shows); fails unless the page is the claims page.
 */
export async function demoClaims(page) {
  await expectHeading(page, 'Signed in');
  const rows = await page
    .locator('table tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [tr.querySelector('th')?.textContent?.trim(), tr.querySelector('td')?.textContent?.trim()]));
  const claims = {};
  for (const [name, value] of rows) {
    try {
      claims[name] = JSON.parse(value);
    } catch {
      claims[name] = value;
    }
  }
  return claims;
}

/** On the claims page: "Sign out" (RP-initiated logout), back at the demo's home page. */
export async function signOutOfDemo(page) {
  await expectHeading(page, 'Signed in');
  await clickAndWait(page, page.getByRole('link', { name: 'Sign out' }));
  await expectHeading(page, DEMO_HOME);
}
