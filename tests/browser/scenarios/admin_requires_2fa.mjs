// A tenant admin turns their domain's two-step verification to Required in the admin console,
// and the next sign-in of a person on that domain who has no second factor goes to the
// enrollment wizard. Before the change the same person signs in with a password alone. The
// change is in the change history; the console's other admin pages are visited on the way.

import { demoClaims, signOutOfDemo, startAtDemo, submitPassword, submitTotp } from '../flows.mjs';

export default async function (ctx) {
  const { assert } = ctx;
  const bob = ctx.user('bob');
  const alice = ctx.user('alice');

  // Before: Bob (acme.test, no second factor) reaches the application with his password.
  const before = await ctx.newPage();
  await startAtDemo(ctx, before);
  await submitPassword(before, bob);
  assert.deepEqual((await demoClaims(before)).amr, ['pwd']);
  await signOutOfDemo(before);

  // Alice, Acme's admin, opens the admin console.
  const page = await ctx.newPage();
  await page.goto(ctx.url('/admin'));
  await ctx.expectHeading(page, 'Sign in');
  await submitPassword(page, alice);
  if ((await page.locator('h1').innerText()).trim() === 'Two-step verification') {
    await submitTotp(page, ctx.totp(alice.totp));
  }
  await ctx.expectHeading(page, 'Acme Oy');
  await ctx.visit(page, 'admin-tenant');
  await page.locator('#two-factor-required').check();
  await ctx.clickAndWait(page, page.getByRole('button', { name: 'Save authentication settings' }));
  await ctx.expectHeading(page, 'Acme Oy');
  assert.equal((await page.locator('#flash').innerText()).trim(), 'The authentication settings were saved.');
  assert.ok(await page.locator('#two-factor-required').isChecked());
  await ctx.visit(page, 'admin-tenant-saved');

  // The change history names the change.
  await page.goto(ctx.url('/admin/audit'));
  assert.match(await page.locator('main').innerText(), /tenant\.policy\.update/);
  await ctx.visit(page, 'admin-audit');
  await page.goto(ctx.url('/admin/alerts'));
  await ctx.visit(page, 'admin-alerts');
  await page.goto(ctx.url('/admin/simulate'));
  await ctx.visit(page, 'admin-simulate');

  // Bob's own page in the console: his login history.
  await page.goto(ctx.url('/admin'));
  await ctx.clickAndWait(page, page.getByRole('link', { name: bob.email }));
  assert.match(await page.locator('main').innerText(), /success/);
  await ctx.visit(page, 'admin-user');

  // After: Bob's next sign-in asks him to set up a second factor.
  const after = await ctx.newPage();
  await startAtDemo(ctx, after);
  await submitPassword(after, bob);
  await ctx.expectHeading(after, 'Set up two-step verification');
  await ctx.visit(after, 'enroll-after-required');
}
