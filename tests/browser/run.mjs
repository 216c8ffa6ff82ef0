#!/usr/bin/env node
// Runs one browser scenario against a running Gatehouse:
//
//   GATEHOUSE_URL=http://localhost:8080 GATEHOUSE_USERS='{"dave":{...}}' node tests/browser/run.mjs password_totp
//
// The scenario is tests/browser/scenarios/<name>.mjs; its default export gets a `Scenario`
// (lib.mjs). Exit status: 0 passed, 1 failed (FAILED.png saved), 2 usage or set-up error.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Scenario, launchBrowser } from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCENARIOS = path.join(HERE, 'scenarios');
/** A whole scenario's limit, so a hung page never hangs CI. */
const SCENARIO_TIMEOUT_MS = Number(process.env.GATEHOUSE_SCENARIO_TIMEOUT_MS || 180_000);

function available() {
  return fs
    .readdirSync(SCENARIOS)
    .filter((f) => f.endsWith('.mjs'))
    .map((f) => f.slice(0, -4))
    .sort();
}

function usage(message) {
  console.error(`error: ${message}`);
  console.error('usage: GATEHOUSE_URL=http://localhost:PORT [GATEHOUSE_USERS=JSON] node tests/browser/run.mjs <scenario>');
  console.error(`scenarios: ${available().join(', ')}`);
  process.exit(2);
}

const name = process.argv[2];
if (!name) usage('name a scenario');
if (!/^[a-z0-9_-]+$/.test(name)) usage(`not a scenario name: ${JSON.stringify(name)}`);
const file = path.join(SCENARIOS, `${name}.mjs`);
if (!fs.existsSync(file)) usage(`no scenario ${name} (${path.relative(process.cwd(), file)} does not exist)`);
const baseUrl = process.env.GATEHOUSE_URL;
if (!baseUrl) usage('GATEHOUSE_URL is not set (the server under test, e.g. http://localhost:8080)');
let users = {};
try {
  users = JSON.parse(process.env.GATEHOUSE_USERS || '{}');
} catch (error) {
  usage(`GATEHOUSE_USERS is not JSON: ${error.message}`);
}
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('GATEHOUSE_')));

const scenario = (await import(pathToFileURL(file).href)).default;
if (typeof scenario !== 'function') usage(`${file} must export a default async function (ctx)`);

const started = Date.now();
let browser;
try {
  browser = await launchBrowser();
} catch (error) {
  console.error(`error: cannot launch Chromium (${process.env.CHROMIUM || '/usr/bin/chromium'}): ${error.message}`);
  process.exit(2);
}
const ctx = new Scenario(name, browser, { baseUrl, users, env });
ctx.log(`Chromium ${browser.version()} against ${ctx.baseUrl}`);

let failure = null;
let timer;
try {
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the scenario took longer than ${SCENARIO_TIMEOUT_MS / 1000} s`)), SCENARIO_TIMEOUT_MS);
  });
  // The default page; a scenario may make more with ctx.newContext() / ctx.newPage().
  ctx.page = await ctx.newPage();
  await Promise.race([scenario(ctx), timeout]);
  await ctx.finish();
} catch (error) {
  failure = error;
} finally {
  clearTimeout(timer);
}

let screenshot = null;
let where = '';
if (failure) {
  screenshot = await ctx.failureScreenshot();
  where = await ctx.failureContext();
  // Errors the browser reported before the failure often explain it.
  try {
    ctx.checkProblems();
  } catch (problems) {
    where += `\n${problems.message}`;
  }
}
try {
  ctx.writeSizes();
} catch (error) {
  console.error(`warning: could not write page sizes: ${error.message}`);
}
await ctx.close();
await browser.close().catch(() => {});

const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (failure) {
  console.error(`\nFAILED: browser scenario ${name} (${seconds} s)`);
  console.error(failure.stack || String(failure));
  if (where) console.error(`\n${where}`);
  if (screenshot) console.error(`\nscreenshot: ${path.relative(process.cwd(), screenshot)}`);
  console.error(`artefacts: ${path.relative(process.cwd(), ctx.dir)}`);
  process.exit(1);
}
console.log(`ok: browser scenario ${name}: ${ctx.visited.size} pages checked in ${seconds} s; artefacts in ${path.relative(process.cwd(), ctx.dir)}`);
