// Browser end-to-end test of prepazka's server-rendered pages, driven in Debian's headless
// Chromium with playwright-core.
//
//   node tests/browser/run.mjs --binary /abs/target/debug/prepazka --artifacts /abs/artifacts/browser
//
// It starts `prepazka demo` on a free port with a throw-away data directory, then runs:
//   A  Ukrainian booking: home → Praha II – Žižkov → card pickup → first day with free slots →
//      first slot → registration number + PIN → Olena plus her first child, one after the other →
//      e-mail → confirmation with two booking codes and QR codes; every page must be <html lang="uk">.
//   M  Ukrainian "manage": look up the first code with Olena's date of birth, then cancel it.
//   B  Vietnamese booking: Brno → interview → travel-document identity → hold → confirmation with
//      one code; pages in Vietnamese.
//   C  Russian error: a wrong PIN gives HTTP 401 and a Russian error box (role=alert).
//   Accessibility: axe-core (WCAG 2 A + AA) on the home, slots, identity and confirmation pages
//      of flow A; any serious or critical violation fails the run.
// Every page is screenshotted into the artifacts folder (uk-*.png, vi-*.png, ru-*.png), with the
// axe results in axe.json and the server's output in server.log.
// The last line printed is "N passed, M failed"; the exit code is non-zero on any failure.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');

const STEP_TIMEOUT_MS = 15_000; // any single click, fill, navigation or wait
const FLOW_TIMEOUT_MS = 60_000; // one whole flow
const RUN_TIMEOUT_MS = 150_000; // the whole run, server start to exit

// ---------------------------------------------------------------------------------------------
// Command line

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--binary' || arg === '--artifacts') {
      opts[arg.slice(2)] = argv[++i];
    } else {
      throw new Error(`unknown argument: ${arg}`);
    }
  }
  if (!opts.binary || !opts.artifacts) {
    throw new Error('usage: node run.mjs --binary <prepazka> --artifacts <dir>');
  }
  return { binary: path.resolve(opts.binary), artifacts: path.resolve(opts.artifacts) };
}

const { binary, artifacts } = parseArgs(process.argv.slice(2));
fs.mkdirSync(artifacts, { recursive: true });
// Remove what an earlier run left, so that every file there belongs to this run.
for (const name of fs.readdirSync(artifacts)) {
  if (/^(uk|vi|ru)-.*\.png$/.test(name) || name === 'axe.json' || name === 'server.log') {
    fs.rmSync(path.join(artifacts, name), { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

class CheckFailed extends Error {}

function assert(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const CYRILLIC = /[\u0400-\u04FF]/;
const UKRAINIAN_ONLY = /[іїєґІЇЄҐ]/; // letters Russian does not use
const NOT_RUSSIAN = /[іїєґөүІЇЄҐӨҮ]/; // Ukrainian- or Mongolian-only letters
// Letters with Vietnamese diacritics (hooks, horns, dots below, đ), which Czech does not have.
const VIETNAMESE = /[ăđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/i;
const BOOKING_CODE = /^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/;

// ---------------------------------------------------------------------------------------------
// The server under test

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'prepazka-browser-'));
const serverLog = fs.createWriteStream(path.join(artifacts, 'server.log'));
let server = null;

/** Starts `prepazka demo` and resolves with its base URL (ending in '/'). */
function startServer() {
  return new Promise((resolve, reject) => {
    const args = ['demo', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--horizon-days', '21'];
    server = spawn(binary, args, {
      env: { ...process.env, PREPAZKA_LOG_FORMAT: 'json', RUST_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let settled = false;
    const fail = (error) => {
      if (!settled) {
        settled = true;
        reject(error);
      }
    };
    const timer = setTimeout(() => fail(new Error(`server printed no address within ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
    server.on('error', (error) => fail(new Error(`cannot start ${binary}: ${error.message}`)));
    server.on('exit', (code, signal) => {
      serverLog.write(`[server exited: code ${code}, signal ${signal}]\n`);
      fail(new Error(`server exited before listening (code ${code}, signal ${signal}); see server.log`));
    });
    server.stderr.on('data', (chunk) => serverLog.write(chunk));
    // Keep reading stdout for the whole run so that the pipe never fills up.
    let first = true;
    readline.createInterface({ input: server.stdout }).on('line', (line) => {
      serverLog.write(`[stdout] ${line}\n`);
      if (!first) return;
      first = false;
      clearTimeout(timer);
      const match = /^prepazka listening on (http:\/\/127\.0\.0\.1:\d+\/)\s*$/.exec(line);
      if (match) {
        settled = true;
        resolve(match[1]);
      } else {
        fail(new Error(`unexpected first line from the server: ${JSON.stringify(line)}`));
      }
    });
  });
}

async function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

// Never leave the server running, however this process ends.
process.on('exit', () => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`interrupted by ${signal}`);
    process.exit(1);
  });
}

// ---------------------------------------------------------------------------------------------
// Page helpers

/** A fresh browser context (cookies, storage) with the per-step timeouts set. */
async function newPage(browser) {
  const context = await browser.newContext({
    viewport: { width: 1024, height: 768 },
    // Lets axe-core be injected even if the app ever sends a Content-Security-Policy.
    bypassCSP: true,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  page.jsErrors = [];
  page.on('pageerror', (error) => page.jsErrors.push(error.message));
  return page;
}

/** Clicks something that loads a new document; resolves with that document's response. */
async function clickAndLoad(page, locator) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
  assert(response, `no response after clicking ${locator}`);
  return response;
}

function expectOk(response, what) {
  assert(response && response.status() === 200, `${what}: HTTP ${response?.status()} at ${response?.url()}`);
}

async function expectLang(page, lang) {
  const actual = await page.getAttribute('html', 'lang');
  assert(actual === lang, `expected <html lang="${lang}"> at ${page.url()}, found lang="${actual}"`);
}

/** Screenshots the whole page as `<prefix>-NN-<name>.png`, numbering per prefix. */
const shotCounters = {};
async function shot(page, prefix, name) {
  shotCounters[prefix] = (shotCounters[prefix] ?? 0) + 1;
  const file = `${prefix}-${String(shotCounters[prefix]).padStart(2, '0')}-${name}.png`;
  await page.screenshot({ path: path.join(artifacts, file), fullPage: true });
  return file;
}

/**
 * On a slots page: walks the day links in the page's <nav> in order and stops on the first day
 * that offers slot buttons. Returns the number of slot buttons on that day.
 */
async function pickDayWithSlots(page) {
  const dayLinks = page.locator('main nav a[href*="?day="]');
  const count = await dayLinks.count();
  assert(count > 0, `no day links in the <nav> of ${page.url()}`);
  for (let i = 0; i < count; i++) {
    const response = await clickAndLoad(page, page.locator('main nav a[href*="?day="]').nth(i));
    expectOk(response, `day link ${i + 1}`);
    const slots = await page.locator('div.slots form[method="get"] button').count();
    if (slots > 0) return slots;
  }
  throw new CheckFailed(`none of the ${count} days offered a slot at ${page.url()}`);
}

/** Runs axe-core (WCAG 2 A and AA) on the page; keeps the results under `label`. */
const axeResults = {};
async function runAxe(page, label) {
  await page.addScriptTag({ path: AXE_PATH });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'], resultTypes: ['violations', 'incomplete'] });
    const brief = (items) =>
      items.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, failureSummary: n.failureSummary })),
      }));
    return {
      axeVersion: r.testEngine.version,
      violations: brief(r.violations),
      incomplete: brief(r.incomplete),
      passes: r.passes.map((p) => p.id),
    };
  });
  axeResults[label] = { url: page.url(), ...result };
}

// ---------------------------------------------------------------------------------------------
// The flows. Each takes a page in a fresh context and throws on the first failed expectation.

const OLENA = { registration: 'UKR-2026-000123', pin: '4821', born: '1988-04-12' };
const AN = { document: 'C1234567', born: '1990-07-03', name: 'NGUYEN VAN AN' };

/** Home (with ?lang=) → office → service → a day with slots. Shared by flows A, B and C. */
async function openSlots(page, base, { lang, prefix, office, service, axePrefix }) {
  const home = await page.goto(`${base}?lang=${lang}`);
  expectOk(home, 'home page');
  await expectLang(page, lang);
  await shot(page, prefix, 'home');
  if (axePrefix) await runAxe(page, `${axePrefix}home`);

  expectOk(await clickAndLoad(page, page.locator(`main a[href="/offices/${office}"]`)), 'office link');
  await expectLang(page, lang);
  await shot(page, prefix, 'office');

  expectOk(await clickAndLoad(page, page.locator(`main a[href="/offices/${office}/${service}"]`)), 'service link');
  await expectLang(page, lang);
  await pickDayWithSlots(page);
  await shot(page, prefix, 'slots');
  if (axePrefix) await runAxe(page, `${axePrefix}slots`);

  const slot = page.locator(`div.slots form[method="get"][action="/offices/${office}/${service}/book"] button`).first();
  expectOk(await clickAndLoad(page, slot), 'slot button');
  await expectLang(page, lang);
  assert((await page.locator('form[action$="/verify"]').count()) === 2, `expected two identity forms at ${page.url()}`);
  await shot(page, prefix, 'identity');
  if (axePrefix) await runAxe(page, `${axePrefix}identity`);
}

/** Hold page → e-mail → confirmation; returns the booking codes shown. */
async function confirmHold(page, { lang, prefix, email }) {
  assert(/\/holds\/[^/?]+$/.test(new URL(page.url()).pathname), `expected /holds/<id>, at ${page.url()}`);
  await expectLang(page, lang);
  await shot(page, prefix, 'hold');
  await page.fill('input[name="email"]', email);
  const selected = await page.locator('select[name="locale"]').inputValue();
  assert(selected === lang, `the language select defaults to "${selected}", expected "${lang}"`);
  expectOk(await clickAndLoad(page, page.locator('form[action$="/confirm"] button[type="submit"]')), 'confirm');
  await expectLang(page, lang);
  await shot(page, prefix, 'confirmed');

  const codes = (await page.locator('[data-booking-code]').allTextContents()).map((c) => c.trim());
  for (const code of codes) assert(BOOKING_CODE.test(code), `booking code "${code}" is not XXXX-XXXX-XXXX`);
  const qrs = await page.locator('figure.qr svg').count();
  assert(qrs === codes.length && qrs > 0, `expected one QR <svg> in figure.qr per code: ${qrs} QR codes, ${codes.length} codes`);
  return codes;
}

const state = { ukCodes: [] };

async function flowUkrainian(page, base) {
  await openSlots(page, base, { lang: 'uk', prefix: 'uk', office: 'praha-zizkov', service: 'card_pickup', axePrefix: 'uk-' });

  // Identity: the first form (registration number and PIN).
  const registration = page.locator('form[action$="/verify"]').filter({ has: page.locator('input[name="pin"]') });
  await registration.locator('input[name="registration_number"]').fill(OLENA.registration);
  await registration.locator('input[name="pin"]').fill(OLENA.pin);
  expectOk(await clickAndLoad(page, registration.locator('button[type="submit"]')), 'registration form');
  await expectLang(page, 'uk');

  // Household: Olena's first child (member 1), one appointment after the other.
  await page.check('input[type="checkbox"][name="member"][value="1"]');
  await page.check('input[type="radio"][name="arrangement"][value="consecutive"]');
  await shot(page, 'uk', 'household');
  expectOk(await clickAndLoad(page, page.locator('form[action$="/hold"] button[type="submit"]')), 'household form');

  const codes = await confirmHold(page, { lang: 'uk', prefix: 'uk', email: 'olena@example.cz' });
  assert(codes.length >= 2, `expected at least 2 booking codes (Olena + child), found ${codes.length}: ${codes.join(', ')}`);
  assert(new Set(codes).size === codes.length, `booking codes repeat: ${codes.join(', ')}`);
  const heading = `${await page.title()} | ${await page.locator('h1').innerText()}`;
  assert(CYRILLIC.test(heading) && UKRAINIAN_ONLY.test(heading), `title and heading are not Ukrainian: ${heading}`);
  await runAxe(page, 'uk-confirmed');
  state.ukCodes = codes;
  return `codes ${codes.join(', ')}`;
}

async function flowManage(page, base) {
  assert(state.ukCodes.length > 0, 'flow A produced no booking code to manage');
  const code = state.ukCodes[0];
  expectOk(await page.goto(`${base}manage?lang=uk`), '/manage');
  await expectLang(page, 'uk');
  await page.fill('input[name="booking_code"]', code);
  await page.fill('input[name="date_of_birth"]', OLENA.born);
  await shot(page, 'uk', 'manage-form');
  expectOk(await clickAndLoad(page, page.locator('form[action="/manage"] button[type="submit"]')), 'manage lookup');
  await expectLang(page, 'uk');
  const shown = (await page.locator('[data-booking-code]').allTextContents()).map((c) => c.trim());
  assert(shown.includes(code), `manage page does not show ${code}; shows ${JSON.stringify(shown)}`);
  await shot(page, 'uk', 'manage-found');

  const cancelled = await clickAndLoad(page, page.locator('form[action="/manage/cancel"] button.danger'));
  expectOk(cancelled, 'cancel');
  await expectLang(page, 'uk');
  const heading = (await page.locator('main h1').innerText()).trim();
  assert(heading.length > 0, 'the cancellation page has no heading');
  assert((await page.locator('.error').count()) === 0, `the cancellation page shows an error: ${heading}`);
  await shot(page, 'uk', 'cancelled');
  return `cancelled ${code}: "${heading}"`;
}

async function flowVietnamese(page, base) {
  await openSlots(page, base, { lang: 'vi', prefix: 'vi', office: 'brno', service: 'interview' });

  // Identity: the second form (travel document).
  const documentForm = page.locator('form[action$="/verify"]').filter({ has: page.locator('input[name="document_number"]') });
  await documentForm.locator('input[name="document_number"]').fill(AN.document);
  await documentForm.locator('input[name="date_of_birth"]').fill(AN.born);
  await documentForm.locator('input[name="name"]').fill(AN.name);
  expectOk(await clickAndLoad(page, documentForm.locator('button[type="submit"]')), 'travel document form');
  await expectLang(page, 'vi');
  assert((await page.locator('input[name="member"]').count()) === 0, 'An has no household, yet members are offered');
  await shot(page, 'vi', 'verified');
  expectOk(await clickAndLoad(page, page.locator('form[action$="/hold"] button[type="submit"]')), 'hold form');

  const codes = await confirmHold(page, { lang: 'vi', prefix: 'vi', email: 'an@example.vn' });
  assert(codes.length === 1, `expected 1 booking code, found ${codes.length}: ${codes.join(', ')}`);
  const text = await page.locator('main').innerText();
  assert(VIETNAMESE.test(text), `no Vietnamese letters in the confirmation page: ${text.slice(0, 200)}`);
  return `code ${codes[0]}`;
}

async function flowRussianError(page, base) {
  await openSlots(page, base, { lang: 'ru', prefix: 'ru', office: 'praha-zizkov', service: 'card_pickup' });
  const registration = page.locator('form[action$="/verify"]').filter({ has: page.locator('input[name="pin"]') });
  await registration.locator('input[name="registration_number"]').fill(OLENA.registration);
  await registration.locator('input[name="pin"]').fill('0000');
  const response = await clickAndLoad(page, registration.locator('button[type="submit"]'));
  await shot(page, 'ru', 'wrong-pin');
  assert(response.status() === 401, `wrong PIN: expected HTTP 401, got ${response.status()} at ${response.url()}`);
  await expectLang(page, 'ru');
  const box = page.locator('.error[role="alert"]');
  assert((await box.count()) === 1, 'no .error[role=alert] box on the wrong-PIN page');
  const message = (await box.innerText()).trim();
  assert(CYRILLIC.test(message) && !NOT_RUSSIAN.test(message), `the error is not in Russian: "${message}"`);
  return `HTTP 401, "${message}"`;
}

// ---------------------------------------------------------------------------------------------
// Running it all

const results = [];

function record(name, ok, detail) {
  results.push({ name, ok, detail });
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}${detail ? ` — ${detail}` : ''}`);
}

async function runFlow(browser, base, name, prefix, flow) {
  let page;
  try {
    page = await newPage(browser);
    const detail = await withTimeout(flow(page, base), FLOW_TIMEOUT_MS, name);
    assert(page.jsErrors.length === 0, `JavaScript errors: ${page.jsErrors.join('; ')}`);
    record(name, true, detail);
  } catch (error) {
    const where = page ? ` (at ${page.url()})` : '';
    record(name, false, `${error.message.split('\n')[0]}${where}`);
    if (!(error instanceof CheckFailed)) console.error(error.stack);
    if (page) await page.screenshot({ path: path.join(artifacts, `${prefix}-FAILED.png`), fullPage: true }).catch(() => {});
  } finally {
    if (page) await page.context().close().catch(() => {});
  }
}

/** One check per axe-scanned page: fails on any serious or critical violation. */
function checkAxe() {
  const pages = ['uk-home', 'uk-slots', 'uk-identity', 'uk-confirmed'];
  for (const label of pages) {
    const result = axeResults[label];
    if (!result) {
      record(`axe ${label}`, false, 'page not reached, not scanned');
      continue;
    }
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    const minor = result.violations.length - bad.length;
    if (bad.length === 0) {
      record(`axe ${label}`, true, `no serious/critical violations (${minor} minor/moderate, ${result.incomplete.length} to review)`);
    } else {
      record(`axe ${label}`, false, `${bad.length} serious/critical violation(s) at ${result.url}`);
      for (const v of bad) {
        console.log(`      [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`);
        for (const n of v.nodes) {
          console.log(`        ${n.target.join(' ')}: ${n.html}`);
          console.log(`          ${(n.failureSummary ?? '').replace(/\n/g, '\n          ')}`);
        }
      }
    }
  }
  fs.writeFileSync(path.join(artifacts, 'axe.json'), `${JSON.stringify(axeResults, null, 2)}\n`);
}

async function main() {
  const watchdog = setTimeout(() => {
    console.error(`the whole run took longer than ${RUN_TIMEOUT_MS / 1000} s; giving up`);
    console.log(`${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length + 1} failed`);
    process.exit(1);
  }, RUN_TIMEOUT_MS);

  let browser;
  try {
    const base = await startServer();
    console.log(`server: ${base} (data ${dataDir})`);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      timeout: STEP_TIMEOUT_MS,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    await runFlow(browser, base, 'A: booking in Ukrainian (Olena + child, consecutive)', 'uk', flowUkrainian);
    await runFlow(browser, base, 'A: manage and cancel in Ukrainian', 'uk-manage', flowManage);
    await runFlow(browser, base, 'B: booking in Vietnamese (travel document)', 'vi', flowVietnamese);
    await runFlow(browser, base, 'C: wrong PIN in Russian gives 401 and an alert', 'ru', flowRussianError);
    checkAxe();
    const crashed = server.exitCode !== null || server.signalCode !== null;
    record('server still running after the flows', !crashed, crashed ? `exited with ${server.exitCode ?? server.signalCode}` : '');
  } catch (error) {
    record('setup', false, error.message);
    console.error(error.stack);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopServer();
    serverLog.end();
    clearTimeout(watchdog);
  }

  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`artifacts: ${artifacts}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
