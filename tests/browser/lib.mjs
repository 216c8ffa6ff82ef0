// The browser-test library: launches Debian's Chromium headless through playwright-core and
// gives each scenario a `Scenario` (the `ctx` its default export receives) with guarded pages,
// `visit` (screenshot + axe-core + transferred size for every distinct page), a TOTP generator
// and a CDP virtual authenticator. See README.md beside this file.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import axe from 'axe-core';
import { chromium } from 'playwright-core';

export { assert };

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Screenshots, FAILED.png and page-sizes.tsv go here (relative to the repository root). */
export const ARTIFACTS = path.resolve(REPO_ROOT, process.env.GATEHOUSE_BROWSER_ARTIFACTS || path.join('target', 'browser-artifacts'));
export const SIZES_FILE = path.join(ARTIFACTS, 'page-sizes.tsv');
/** The WCAG levels axe checks; a violation of impact serious or critical fails the scenario. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const FAILING_IMPACTS = new Set(['serious', 'critical']);
/** Playwright's per-action and per-navigation timeout. */
const ACTION_TIMEOUT_MS = 30_000;

/** An expected failure of a scenario (as opposed to a bug in the scenario's own code). */
export class ScenarioError extends Error {}

/** Debian's Chromium (or $CHROMIUM), headless. `--no-sandbox`: CI runs as root. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) from a base32 secret.

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Decodes RFC 4648 base32 (spaces, dashes and padding ignored, any case). */
export function base32Decode(text) {
  const clean = text.toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${JSON.stringify(text)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/**
 * The code an authenticator app shows for `secret` (base32) at `time` (ms since the epoch, now by
 * default); `steps` shifts by whole 30-second steps (-1: the previous code).
 */
export function totp(secret, { time = Date.now(), steps = 0, digits = 6, period = 30 } = {}) {
  const counter = BigInt(Math.floor(time / 1000 / period) + steps);
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(counter);
  const mac = crypto.createHmac('sha1', base32Decode(secret)).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** A 6-digit code that is wrong for `secret` now and in the steps either side (the server's drift). */
export function wrongTotp(secret) {
  const near = new Set([-2, -1, 0, 1, 2].map((steps) => totp(secret, { steps })));
  for (let n = 0; ; n += 1) {
    const candidate = String((Number(totp(secret)) + 111_111 * (n + 1)) % 1_000_000).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

// ---------------------------------------------------------------------------------------------
// WebAuthn: a CDP virtual authenticator, attached to one page (it survives navigations).

/**
 * Adds a virtual platform authenticator (CTAP2, resident keys, user verification, presence
 * simulated) to `page`; `options` override the defaults of WebAuthn.addVirtualAuthenticator.
 * Returns { cdp, authenticatorId, credentials(), remove() }.
 */
export async function addVirtualAuthenticator(page, options = {}) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      ...options,
    },
  });
  return {
    cdp,
    authenticatorId,
    /** The credentials the authenticator holds (WebAuthn.getCredentials). */
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    remove: () => cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId }),
  };
}

// ---------------------------------------------------------------------------------------------
// Page-state helpers.

/** Waits for the page's <h1> to read `text` (a string is matched exactly, trimmed; or a RegExp). */
export async function expectHeading(page, text, { timeout = ACTION_TIMEOUT_MS } = {}) {
  const heading = page.locator('h1');
  try {
    await heading.filter({ hasText: text instanceof RegExp ? text : new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) }).first().waitFor({ timeout });
  } catch {
    const actual = await heading.allInnerTexts().catch(() => []);
    throw new ScenarioError(`expected the heading ${text} at ${page.url()}, found ${JSON.stringify(actual)}`);
  }
}

/**
 * Asserts the page shown is one a person can act on: an HTML document with a status below 500,
 * a heading and a sentence, not raw JSON or a Rust debug dump. Returns { status, heading, text }.
 */
export async function expectFriendlyPage(page, state) {
  const doc = state?.document;
  const text = (await page.locator('body').innerText().catch(() => '')).trim();
  const heading = (await page.locator('h1').first().innerText().catch(() => '')).trim();
  const problems = [];
  if (!doc) problems.push('no document response was seen');
  else {
    if (doc.status >= 500) problems.push(`HTTP ${doc.status}`);
    if (!doc.contentType.startsWith('text/html')) problems.push(`content type ${doc.contentType || '(none)'}`);
  }
  if (!heading) problems.push('no <h1>');
  if (text.length < 20) problems.push('(almost) blank page');
  if (/^[[{]/.test(text) || /"error"\s*:/.test(text)) problems.push('raw JSON');
  if (/\b[A-Z][A-Za-z]+ \{ [a-z_]+: |\bSome\(|\bNone\b, |Error\(/.test(text)) problems.push('a Rust debug dump');
  if (problems.length > 0) {
    throw new ScenarioError(`unfriendly page at ${page.url()} (HTTP ${doc?.status}): ${problems.join(', ')}\n--- page text ---\n${text.slice(0, 1000)}`);
  }
  return { status: doc.status, heading, text };
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Runs `action` (a click, a form submission, `page.goBack()`...) and waits until the main frame
 * has navigated and the new document has loaded: also when the new page has the same heading
 * or URL, and when script submits the form later (the WebAuthn buttons).
 */
export async function navigation(page, action, { timeout = ACTION_TIMEOUT_MS } = {}) {
  const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame(), timeout });
  navigated.catch(() => {}); // awaited below; no unhandled rejection if `action` throws first
  await action();
  await navigated;
  await page.waitForLoadState('load', { timeout });
}

/** Clicks `locator` and waits for the page it leads to (see `navigation`). */
export async function clickAndWait(page, locator, options) {
  await navigation(page, () => locator.click(), options);
}

// ---------------------------------------------------------------------------------------------
// The scenario context.

/** Per-page bookkeeping: the main document and the requests made for it. */
class PageState {
  constructor(page) {
    this.page = page;
    /** { url, status, contentType } of the main frame's last document response. */
    this.document = null;
    /** Requests of the current document: the navigation request and its subresources. */
    this.requests = [];
    /** request -> transferred bytes (headers + encoded body), or 0 when it failed. */
    this.sizes = new Map();
    this.pendingSizes = [];
  }
}

export class Scenario {
  /**
   * @param {string} name the scenario's name (its file under scenarios/, its artefact folder)
   * @param {import('playwright-core').Browser} browser
   * @param {{ baseUrl: string, users?: object, env?: object }} fixture
   */
  constructor(name, browser, { baseUrl, users = {}, env = {} }) {
    this.name = name;
    this.browser = browser;
    /** The server's issuer URL, e.g. http://localhost:41234 (no trailing slash). */
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    /** Fixture users by short name: { email, password, totp? }. */
    this.users = users;
    /** Every GATEHOUSE_* environment variable the test passed. */
    this.env = env;
    this.assert = assert;
    this.totp = totp;
    this.wrongTotp = wrongTotp;
    this.addVirtualAuthenticator = addVirtualAuthenticator;
    this.expectHeading = expectHeading;
    this.navigation = navigation;
    this.clickAndWait = clickAndWait;
    this.dir = path.join(ARTIFACTS, name);
    this.visited = new Map();
    this.sizeRows = [];
    this.axeFailures = [];
    /** Console errors, CSP violations and page errors not yet reported. */
    this.problems = [];
    this.states = new Map();
    this.contexts = [];
    /** The page a failure screenshot is taken of: the one last navigated or visited. */
    this.lastPage = null;
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** Prints a progress line. */
  log(...parts) {
    console.log(`[${this.name}]`, ...parts);
  }

  /** An absolute URL on the server. */
  url(pathAndQuery = '/') {
    return `${this.baseUrl}${pathAndQuery}`;
  }

  /** A fixture user by short name (as the Rust test passed them in GATEHOUSE_USERS). */
  user(short) {
    const user = this.users[short];
    if (!user) throw new Error(`no fixture user ${JSON.stringify(short)} (GATEHOUSE_USERS has ${Object.keys(this.users).join(', ') || 'none'})`);
    return user;
  }

  /** A new browser context (its own cookies: another browser, as far as the server can tell). */
  async newContext(options = {}) {
    const context = await this.browser.newContext({ viewport: { width: 1024, height: 768 }, ...options });
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
    this.contexts.push(context);
    return context;
  }

  /**
   * A guarded page: any console error, Content-Security-Policy report or uncaught page error
   * fails the scenario (at the next `visit`, or at the end). The HTTP cache is off so every
   * page's transferred size is what a first visit costs.
   */
  async newPage(context) {
    const ctx = context || (await this.newContext());
    const page = await ctx.newPage();
    const state = new PageState(page);
    this.states.set(page, state);
    this.lastPage = page;
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });

    page.on('console', (message) => {
      const text = message.text();
      const csp = /Content[- ]Security[- ]Policy/i.test(text);
      // The pages link an empty data: icon; a document that links none (a JSON download)
      // makes Chromium ask for /favicon.ico by itself.
      if (isFavicon(message.location()?.url) && !csp) return;
      if (message.type() === 'error' || csp) {
        this.problems.push({ kind: csp ? 'CSP violation' : 'console error', text, url: message.location()?.url || page.url() });
      }
    });
    page.on('pageerror', (error) => this.problems.push({ kind: 'page error', text: error.stack || String(error), url: page.url() }));
    page.on('crash', () => this.problems.push({ kind: 'page crash', text: 'the page crashed', url: page.url() }));
    page.on('request', (request) => {
      if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
        // A new document (or the next hop of a redirect): its bytes start from zero.
        state.requests = [];
        this.lastPage = page;
      }
      state.requests.push(request);
    });
    page.on('requestfinished', (request) => {
      state.pendingSizes.push(
        request
          .sizes()
          .then((s) => state.sizes.set(request, Math.max(0, s.responseHeadersSize) + Math.max(0, s.responseBodySize)))
          .catch(() => state.sizes.set(request, 0)),
      );
    });
    page.on('requestfailed', (request) => state.sizes.set(request, 0));
    page.on('response', (response) => {
      const request = response.request();
      if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
        state.document = { url: response.url(), status: response.status(), contentType: response.headers()['content-type'] || '' };
      }
    });
    return page;
  }

  /** The HTTP status of the document `page` shows (null before its first navigation). */
  documentStatus(page) {
    return this.states.get(page)?.document?.status ?? null;
  }

  /** `expectFriendlyPage` for a page of this scenario. */
  async expectFriendly(page) {
    await page.waitForLoadState('load');
    return expectFriendlyPage(page, this.states.get(page));
  }

  /** Throws the console errors, CSP violations and page errors seen so far (except `allowed`). */
  checkProblems(allowed = () => false) {
    const problems = this.problems.filter((p) => !allowed(p));
    this.problems = [];
    if (problems.length > 0) {
      const lines = problems.map((p) => `  ${p.kind} at ${p.url}:\n    ${p.text.replace(/\n/g, '\n    ')}`);
      throw new ScenarioError(`the browser reported ${problems.length} problem(s):\n${lines.join('\n')}`);
    }
  }

  /**
   * Checks the page now shown: the document's HTTP status (`status`: a number or a list of
   * them, 200 by default) and type
   * (HTML), no console/CSP/page errors; and, the first time a `name` is visited in this
   * scenario, saves a full-page screenshot as <nn>-<name>.png, runs axe-core (WCAG 2.2 A/AA;
   * serious and critical violations fail the scenario at its end) and records the transferred
   * size. Returns { status, bytes }.
   */
  async visit(page, name, { status = 200 } = {}) {
    const allowed = Array.isArray(status) ? status : [status];
    assert.match(name, /^[a-z0-9][a-z0-9-]*$/, `page names are lower-case words joined by dashes, not ${JSON.stringify(name)}`);
    this.lastPage = page;
    await page.waitForLoadState('load');
    const state = this.states.get(page);
    if (!state) throw new Error('visit() needs a page made by ctx.newPage()');
    const doc = state.document;
    if (!doc) throw new ScenarioError(`no document response seen for ${page.url()}`);
    // The browser logs a failed main-document load (an expected 4xx page) as a console error.
    const expectedLoadError = (p) => p.kind === 'console error' && p.url === doc.url && doc.status >= 400 && allowed.includes(doc.status) && p.text.includes(`status of ${doc.status}`);
    this.checkProblems(expectedLoadError);
    if (!allowed.includes(doc.status)) {
      const text = (await page.locator('body').innerText().catch(() => '')).slice(0, 500);
      throw new ScenarioError(`${name}: expected HTTP ${allowed.join(' or ')} for ${doc.url}, got ${doc.status}; the page says:\n${text}`);
    }
    if (!doc.contentType.startsWith('text/html')) throw new ScenarioError(`${name}: ${doc.url} is ${doc.contentType || 'untyped'}, not an HTML page`);

    if (this.visited.has(name)) {
      this.log(`visited ${name} again (${page.url()}): checks only`);
      return { status: doc.status, bytes: this.visited.get(name).bytes };
    }
    const bytes = await this.transferredBytes(state);
    const nn = String(this.visited.size + 1).padStart(2, '0');
    const screenshot = path.join(this.dir, `${nn}-${name}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    const violations = await this.axe(page, name);
    this.visited.set(name, { bytes });
    this.sizeRows.push([`${this.name}/${name}`, bytes]);
    this.log(`${nn}-${name}: HTTP ${doc.status} ${new URL(doc.url).pathname}, ${bytes} bytes, axe ${violations === 0 ? 'clean' : `${violations} serious/critical`}`);
    return { status: doc.status, bytes };
  }

  /** Main document plus same-origin subresources (not data: URLs): headers + encoded bodies. */
  async transferredBytes(state) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      await Promise.all(state.pendingSizes);
      const open = state.requests.filter((r) => !r.url().startsWith('data:') && !isFavicon(r.url()) && !state.sizes.has(r));
      if (open.length === 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const origin = new URL(state.document.url).origin;
    let total = 0;
    for (const request of state.requests) {
      const url = request.url();
      if (url.startsWith('data:') || isFavicon(url) || new URL(url).origin !== origin) continue;
      total += state.sizes.get(request) || 0;
    }
    return total;
  }

  /** Runs axe-core in the page (injected over CDP, which the page's CSP does not govern). */
  async axe(page, name) {
    await page.evaluate(axe.source);
    const results = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }), AXE_TAGS);
    let failing = 0;
    for (const violation of results.violations) {
      const fails = FAILING_IMPACTS.has(violation.impact);
      if (fails) failing += 1;
      const report = formatViolation(name, page.url(), violation);
      if (fails) {
        this.axeFailures.push(report);
        console.log(report);
      } else {
        console.log(`(not failing: impact ${violation.impact})\n${report}`);
      }
    }
    return failing;
  }

  /** Checks what is left at the end: errors after the last visit, axe violations. */
  async finish() {
    this.checkProblems();
    if (this.axeFailures.length > 0) {
      throw new ScenarioError(`axe-core found ${this.axeFailures.length} serious or critical accessibility violation(s):\n${this.axeFailures.join('\n')}`);
    }
  }

  /** Saves FAILED.png of the page last in use; returns its path (or null). */
  async failureScreenshot() {
    const page = this.lastPage;
    if (!page || page.isClosed()) return null;
    const file = path.join(this.dir, 'FAILED.png');
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
      return file;
    } catch {
      return null;
    }
  }

  /** Where the failing page was and what it said. */
  async failureContext() {
    const page = this.lastPage;
    if (!page || page.isClosed()) return '';
    const text = await page.locator('body').innerText({ timeout: 2_000 }).catch(() => '');
    return `page: ${page.url()}\n${text.slice(0, 1500)}`;
  }

  /** Writes this scenario's rows into page-sizes.tsv (replacing its earlier ones). */
  writeSizes() {
    withLock(`${SIZES_FILE}.lock`, () => {
      const prefix = `${this.name}/`;
      const kept = fs.existsSync(SIZES_FILE)
        ? fs.readFileSync(SIZES_FILE, 'utf8').split('\n').filter((line) => line && !line.startsWith('page\t') && !line.startsWith(prefix))
        : [];
      const rows = [...kept, ...this.sizeRows.map(([page, bytes]) => `${page}\t${bytes}`)].sort();
      fs.writeFileSync(SIZES_FILE, ['page\tbytes', ...rows, ''].join('\n'));
    });
  }

  async close() {
    for (const context of this.contexts) await context.close().catch(() => {});
  }
}

function isFavicon(url) {
  try {
    return new URL(url).pathname === '/favicon.ico';
  } catch {
    return false;
  }
}

/** One violation, readably: rule, impact, help, and each offending element. */
export function formatViolation(pageName, url, violation) {
  const lines = [`axe ${violation.impact}: ${violation.id} on ${pageName} (${url})`, `  ${violation.help} (${violation.helpUrl})`];
  for (const node of violation.nodes) {
    lines.push(`  element ${node.target.join(' ')}: ${node.html}`);
    if (node.failureSummary) lines.push(`    ${node.failureSummary.replace(/\n/g, '\n    ')}`);
  }
  return lines.join('\n');
}

/** Runs `fn` holding an exclusive lock file (scenarios run in parallel processes). */
function withLock(lockPath, fn) {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  const deadline = Date.now() + 10_000;
  let fd;
  for (;;) {
    try {
      fd = fs.openSync(lockPath, 'wx');
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      if (Date.now() > deadline) {
        // A crashed writer left it behind: take it over.
        fs.rmSync(lockPath, { force: true });
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    return fn();
  } finally {
    fs.closeSync(fd);
    fs.rmSync(lockPath, { force: true });
  }
}
