// An operator switches the demo application to Bypass in the admin console, and the
// second-factor prompt disappears for Dave, whose domain requires two-step verification:
// before, his password leads to the prompt; after, straight to the application. The policy
// simulator explains the new decision.

import { demoClaims, startAtDemo, submitPassword } from '../flows.mjs';

export default async function (ctx) {
  const { assert } = ctx;
  const dave = ctx.user('dave');
  const operator = ctx.user('demo');

  // Before: the prompt.
  const before = await ctx.newPage();
  await startAtDemo(ctx, before);
  await submitPassword(before, dave);
  await ctx.expectHeading(before, 'Two-step verification');
  await ctx.visit(before, 'factor');

  // The operator (the demo user) opens the applications page.
  const page = await ctx.newPage();
  await page.goto(ctx.url('/admin/applications'));
  await ctx.expectHeading(page, 'Sign in');
  await submitPassword(page, operator);
  await ctx.expectHeading(page, 'Applications');
  await ctx.visit(page, 'admin-applications');
  const demoApp = page.locator('form', { has: page.locator('#mode-demo') });
  await page.locator('#mode-demo').selectOption('bypass');
  await ctx.clickAndWait(page, demoApp.getByRole('button'));
  await ctx.expectHeading(page, 'Applications');
  assert.ok(await page.locator('#flash').isVisible());
  assert.equal(await page.locator('#mode-demo').inputValue(), 'bypass');
  await ctx.visit(page, 'admin-applications-saved');

  // The simulator: Dave at the demo application from this machine.
  await page.goto(ctx.url('/admin/simulate'));
  await page.getByLabel('Email', { exact: false }).first().fill(dave.email);
  await page.locator('#client-id').selectOption('demo');
  await page.locator('#ip').fill('127.0.0.1');
  await ctx.clickAndWait(page, page.locator('form[action="/admin/simulate"] button[type=submit]'));
  const answer = await page.locator('#answer-h + dl').innerText();
  assert.match(answer, /bypass/i, answer);
  await ctx.visit(page, 'admin-simulate-result');
  await page.goto(ctx.url('/admin'));
  await ctx.visit(page, 'admin-overview');

  // After: no prompt.
  const after = await ctx.newPage();
  await startAtDemo(ctx, after);
  await submitPassword(after, dave);
  const claims = await demoClaims(after);
  assert.equal(claims.email, dave.email);
  assert.deepEqual(claims.amr, ['pwd'], 'the application bypasses the second factor');
  await ctx.visit(after, 'claims-bypass');
}
