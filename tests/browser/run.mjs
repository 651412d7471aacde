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
//   D  Office day at Praha II – Žižkov, each device in its own browser context (own cookies):
//      the waiting-room display (enrolled from data/devices.txt, 1280×720) listens on its
//      EventSource; the kiosk (enrolled likewise, in Ukrainian) issues an interview ticket; the
//      officer (signed in from data/staff.txt, in Czech) calls it to counter 7, and the display
//      shows it, highlighted, within 10 s and with no name or e-mail; "Hotovo" completes it.
//      The kiosk page must also offer a check-in form (/kiosk/check-in).
//   E  The supervisor's day page, in Czech.
//   F  Assisted booking: the officer, in Czech, books a visa sticker for Батболд (registration
//      number + PIN read at the desk, no e-mail, Mongolian): a printable confirmation with code + QR.
//   G  Devices: the administrator creates a display's enrolment link (shown once, QR code) and
//      the link enrols a display in a fresh browser context.
//   H  Interpreting, in a browser of its own whose fake microphone loops testset/cs-officer-01.wav
//      plus 2 s of silence (interpret-mic.wav): the overseer (data/staff.txt) opens a session for
//      an English-speaking client; the client screen (the officer page's #client-link) shows the
//      notice (artificial intelligence, human interpreter); the officer's microphone streams a
//      whole sentence before the acknowledgement and no segment appears; after #ack a segment
//      (Czech transcript + labelled English translation, or withheld) appears on both screens
//      within 150 s; the officer stops the AI; the session's export (/interpret/{id}/export) holds
//      exactly one asr.segment, mt.segment and output.presented record per segment shown, in that
//      order and after notice.acknowledged (interpret-ai-log.json), and `prepazka ai-log verify`
//      passes. Needs the model cache (scripts/setup-models, scripts/setup-models --testset) and
//      the worker binaries beside the binary; fails saying so if they are missing, or is skipped
//      with PREPAZKA_SKIP_MODEL_TESTS=1.
//   Accessibility: axe-core (WCAG 2 A + AA) on the home, slots, identity and confirmation pages
//      of flow A, on the kiosk, ticket, counter and display pages of flow D, on the pages of
//      flows E, F and G, and on flow H's notice, officer and client screens; any serious or
//      critical violation fails the run.
// Every page is screenshotted into the artifacts folder (uk-*.png, vi-*.png, ru-*.png,
// kiosk-*.png, counter-*.png, display-*.png, interpret-*.png, …), with the axe results in
// axe.json and the server's output in server.log.
// The last line printed is "N passed, M failed"; the exit code is non-zero on any failure.

import { execFile, spawn } from 'node:child_process';
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
const RUN_TIMEOUT_MS = 150_000; // the whole run without flow H, server start to exit

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
  if (/^(uk|vi|ru|kiosk|counter|display|supervisor|assist|admin|interpret)-.*\.png$/.test(name) ||
    ['axe.json', 'server.log', 'interpret-ai-log.json', 'interpret-mic.wav'].includes(name)) {
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

const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

// ---------------------------------------------------------------------------------------------
// The server under test

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'prepazka-browser-'));
// Where `prepazka demo --data-dir` keeps its database (and `prepazka ai-log` looks for it).
const databaseUrl = `sqlite://${path.join(dataDir, 'prepazka.db')}`;
const serverLog = fs.createWriteStream(path.join(artifacts, 'server.log'));
let server = null;

/** Starts `prepazka demo` and resolves with its base URL (ending in '/'). */
function startServer() {
  return new Promise((resolve, reject) => {
    const args = ['demo', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--horizon-days', '21'];
    server = spawn(binary, args, {
      // A Tuesday morning, whenever the suite runs: kiosks issue walk-in tickets in opening hours.
      env: { ...process.env, PREPAZKA_LOG_FORMAT: 'json', RUST_LOG: 'warn', PREPAZKA_CLOCK_START: '2027-03-16T08:30:00+01:00' },
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
async function newPage(browser, { viewport = { width: 1024, height: 768 } } = {}) {
  const context = await browser.newContext({
    viewport,
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

const state = { ukCodes: [], kioskCheckIn: null, displayHighlight: null, micLoopSeconds: 0 };

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

// Flow D: the office day in the building. The demo writes the devices' enrolment links and the
// officers' passwords into its data directory.
const OFFICE_DAY = { office: 'praha-zizkov', officer: 'officer-praha-zizkov', service: 'interview', counter: '7' };
const TICKET = /^I\d{3,4}$/; // interview tickets are I001, I002, …
const DISPLAY_WAIT_MS = 10_000; // from the officer's call to the row on the waiting-room screen
// What must never reach the waiting-room screen: officers, e-mail addresses, the demo people.
const PERSONAL = [
  /officer/i,
  /[\w.+-]+@[\w-]+\.[\w.-]+/,
  /Olena|Kovalenko|Олена|Коваленко|Nguy[eễ]n|Smith|Petrov|Петров|Батболд|Энхжаргал/i,
];
const DISPLAY_EVENT_FIELDS = new Set(['seq', 'day', 'at', 'kind', 'ticket', 'counter']);

/** Whitespace-separated fields of the lines of a file the demo wrote into its data directory. */
function demoLines(name) {
  const file = path.join(dataDir, name);
  assert(fs.existsSync(file), `the demo wrote no ${name} into its data directory`);
  return fs.readFileSync(file, 'utf8').split('\n').map((line) => line.trim().split(/\s+/)).filter((f) => f[0]);
}

/** The enrolment link of one office's kiosk or display, from devices.txt (`OFFICE KIND URL`). */
function enrolmentUrl(base, office, kind) {
  const line = demoLines('devices.txt').find(([o, k]) => o === office && k === kind);
  assert(line, `devices.txt has no ${office} ${kind}`);
  const url = line[2] ?? '';
  assert(url.startsWith(`${base}enrol/`) && /\/enrol\/[0-9a-f]{64}$/.test(url), `devices.txt: bad ${office} ${kind} link "${url}"`);
  return url;
}

/** An officer's password, from staff.txt (`USERNAME PASSWORD`). */
function staffPassword(username) {
  const line = demoLines('staff.txt').find(([u]) => u === username);
  assert(line && line[1], `staff.txt has no password for ${username}`);
  return line[1];
}

/** Opens an enrolment link; it must set the HttpOnly device cookie and redirect to `landing`. */
async function enrol(page, url, landing) {
  expectOk(await page.goto(url), `enrolment link for ${landing}`);
  assert(new URL(page.url()).pathname === landing, `the enrolment link led to ${page.url()}, expected ${landing}`);
  const cookie = (await page.context().cookies()).find((c) => c.name === 'pz_device');
  assert(cookie && cookie.httpOnly, 'the enrolment link set no HttpOnly pz_device cookie');
}

/** The rows of the display's #calls table, as [ticket, counter, class]. */
function displayRows(page) {
  return page.$$eval('#calls tr', (rows) => rows.map((r) => [...[...r.cells].map((c) => c.textContent.trim()), r.className]));
}

/**
 * Reads the display's event stream for a moment from inside the display page (its cookie) and
 * returns the parsed events of the replay, until `ticket` was called or 3 s have passed.
 */
function readDisplayStream(page, ticket) {
  return page.evaluate(async (ticket) => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 3_000);
    const events = [];
    let text = '';
    try {
      const response = await fetch('/display/events', { signal: abort.signal, headers: { Accept: 'text/event-stream' } });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        if (events.length === 0 && /"kind":"called"/.test(text) && text.includes(`"ticket":"${ticket}"`)) break;
      }
    } catch (e) {
      if (e.name !== 'AbortError') throw e;
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
    for (const line of text.split('\n')) if (line.startsWith('data:')) events.push(JSON.parse(line.slice(5)));
    return events;
  }, ticket);
}

async function flowOfficeDay(display, base, open) {
  const { office, officer, service, counter: counterNumber } = OFFICE_DAY;

  // 1. The waiting-room display: enrolled, live on its event stream.
  await enrol(display, enrolmentUrl(base, office, 'display'), '/display');
  assert((await display.locator('table #calls').count()) === 1, 'the display has no tbody#calls');
  try {
    await display.waitForFunction(
      // `source` is the page's EventSource (a top-level const of its script).
      () => typeof source !== 'undefined' && source.readyState === EventSource.OPEN && !document.body.classList.contains('offline'),
      null,
      { timeout: STEP_TIMEOUT_MS },
    );
  } catch {
    throw new CheckFailed(`the display's EventSource did not open within ${STEP_TIMEOUT_MS / 1000} s`);
  }

  // 2. The kiosk, in Ukrainian: an interview ticket.
  const kiosk = await open('kiosk');
  await enrol(kiosk, enrolmentUrl(base, office, 'kiosk'), '/kiosk');
  expectOk(await kiosk.goto(`${base}kiosk?lang=uk`), 'kiosk in Ukrainian');
  await expectLang(kiosk, 'uk');
  const checkIn = kiosk.locator('form[action="/kiosk/check-in"]');
  state.kioskCheckIn = {
    forms: await checkIn.count(),
    codeFields: await checkIn.locator('input[name="booking_code"]').count(),
  };
  await runAxe(kiosk, 'kiosk');
  const serviceButton = kiosk.locator(`.kiosk form:has(input[name="service"][value="${service}"]) button`);
  expectOk(await clickAndLoad(kiosk, serviceButton), 'kiosk interview button');
  await expectLang(kiosk, 'uk');
  const ticket = (await kiosk.locator('[data-ticket]').innerText()).trim();
  assert(TICKET.test(ticket), `the kiosk's ticket "${ticket}" is not an interview ticket (I001…)`);
  await shot(kiosk, 'kiosk', 'ticket');
  await runAxe(kiosk, 'kiosk-ticket');

  // 3. The officer, in Czech: signs in and calls the next interview to counter 7.
  const counter = await open('counter');
  expectOk(await counter.goto(`${base}staff/login?lang=cs`), 'staff sign-in page');
  await expectLang(counter, 'cs');
  await counter.fill('#u', officer);
  await counter.fill('#p', staffPassword(officer));
  expectOk(await clickAndLoad(counter, counter.locator('form[action="/staff/login"] button[type="submit"]')), 'sign-in');
  assert(new URL(counter.url()).pathname === '/counter', `signing in led to ${counter.url()}, expected /counter`);
  await expectLang(counter, 'cs');
  // Counters start closed: the officer opens counter 7 (signs in to it).
  expectOk(await counter.goto(`${base}counter?counter=${counterNumber}`), 'counter page');
  const openButton = counter.locator('form[action="/counter/state"]:has(input[name="action"][value="open"]) button');
  expectOk(await clickAndLoad(counter, openButton), 'open the counter');
  assert((await counter.locator('[data-counter-status="open"]').count()) === 1, 'counter 7 did not open');
  const call = counter.locator('form[action="/counter/call"]');
  await call.locator('#counter').fill(counterNumber);
  // This counter serves interviews only.
  for (const box of await call.locator('input[type="checkbox"][name="service"]').all()) {
    await box.setChecked((await box.getAttribute('value')) === service);
  }
  const calledAt = Date.now();
  expectOk(await clickAndLoad(counter, call.locator('button[type="submit"]')), 'call next');
  assert(new URL(counter.url()).searchParams.get('counter') === counterNumber, `after calling, at ${counter.url()}, not counter ${counterNumber}`);
  await expectLang(counter, 'cs');
  const current = (await counter.locator('[data-current-ticket]').allTextContents()).map((t) => t.trim());
  assert(current.length === 1 && current[0] === ticket, `counter ${counterNumber} shows ${JSON.stringify(current)}, expected the kiosk's ${ticket}`);
  await shot(counter, 'counter', 'called');
  await runAxe(counter, 'counter');

  // 4. The display shows the call, highlighted, with ticket numbers only.
  try {
    await display.waitForFunction(
      ([t, c]) => [...document.querySelectorAll('#calls tr')].some((r) => r.cells[0]?.textContent.trim() === t && r.cells[1]?.textContent.trim() === c),
      [ticket, counterNumber],
      { timeout: DISPLAY_WAIT_MS, polling: 100 },
    );
  } catch {
    throw new CheckFailed(`within ${DISPLAY_WAIT_MS / 1000} s the display showed no row ${ticket} → ${counterNumber}; rows: ${JSON.stringify(await displayRows(display))}`);
  }
  const shownAfter = Date.now() - calledAt;
  const rows = await displayRows(display);
  const row = rows.find(([t, c]) => t === ticket && c === counterNumber);
  assert(row, `the display's row ${ticket} → ${counterNumber} went away again: ${JSON.stringify(rows)}`);
  assert(row[2].split(/\s+/).includes('latest'), `the display's row ${ticket} → ${counterNumber} is not .latest (class "${row[2]}")`);
  assert(rows.filter((r) => r[2].split(/\s+/).includes('latest')).length === 1, `more than one .latest row: ${JSON.stringify(rows)}`);
  for (const [t, c] of rows) {
    assert(/^[A-Z]\d{3,4}$/.test(t), `a display row shows "${t}", not a ticket number`);
    assert(/^\d{0,2}$/.test(c), `a display row shows "${c}" as a counter`);
  }
  state.displayHighlight = await display.$eval('#calls tr.latest', (row) => {
    const background = (el) => getComputedStyle(el).backgroundColor;
    return { row: background(row), cells: [...row.cells].map(background), body: background(document.body) };
  });
  await shot(display, 'display', 'called');
  const displayText = `${await display.title()}\n${await display.locator('body').innerText()}`;
  for (const pattern of PERSONAL) {
    const hit = pattern.exec(displayText);
    assert(!hit, `the display shows "${hit?.[0]}" (matches ${pattern}); it must show ticket numbers only`);
  }
  const events = await readDisplayStream(display, ticket);
  assert(events.some((e) => e.kind === 'called' && e.ticket === ticket && e.counter === Number(counterNumber)), `the display stream did not replay "${ticket} called to ${counterNumber}": ${JSON.stringify(events)}`);
  for (const e of events) {
    const extra = Object.keys(e).filter((k) => !DISPLAY_EVENT_FIELDS.has(k));
    assert(extra.length === 0, `a display event carries ${extra.join(', ')}: ${JSON.stringify(e)}`);
  }
  await runAxe(display, 'display');

  // 5. "Hotovo": the ticket is served and leaves the counter.
  const done = counter.locator('form[action="/counter/ticket"]:has(input[name="action"][value="complete"]) button[type="submit"]');
  const doneLabel = (await done.innerText()).trim();
  assert(doneLabel === 'Hotovo', `the complete button reads "${doneLabel}", expected "Hotovo"`);
  expectOk(await clickAndLoad(counter, done), 'Hotovo');
  await expectLang(counter, 'cs');
  const left = await counter.locator('[data-current-ticket]').allTextContents();
  assert(left.length === 0, `after "Hotovo" counter ${counterNumber} still shows ${JSON.stringify(left.map((t) => t.trim()))}`);
  await shot(counter, 'counter', 'completed');
  return `ticket ${ticket} (uk kiosk) called to counter ${counterNumber}, on the display ${shownAfter} ms after the call, completed`;
}

/** E: the supervisor, in Czech, sees the day (counters, queues, charts) and it passes axe. */
async function flowSupervisor(page, base) {
  const supervisor = 'supervisor-praha-zizkov';
  expectOk(await page.goto(`${base}staff/login?lang=cs`), 'staff sign-in page');
  await page.fill('#u', supervisor);
  await page.fill('#p', staffPassword(supervisor));
  expectOk(await clickAndLoad(page, page.locator('form[action="/staff/login"] button[type="submit"]')), 'sign-in');
  assert(new URL(page.url()).pathname === '/supervisor', `signing in led to ${page.url()}, expected /supervisor`);
  await expectLang(page, 'cs');
  const counters = await page.locator('[data-counters] tbody tr').count();
  assert(counters > 0, 'the supervisor page lists no counters');
  assert((await page.locator('svg[data-chart="waiting"]').count()) === 1, 'no waiting chart');
  const served = await page.locator('[data-queues] tr[data-service="interview"] td').allTextContents();
  assert(served.length > 0, 'no interview row in the queues table');
  await shot(page, 'supervisor', 'day');
  await runAxe(page, 'supervisor');
  return `${counters} counters, queues and charts shown`;
}

/** Signs a demo member of staff in at /staff/login in `lang`. */
async function staffSignIn(page, base, username, lang) {
  expectOk(await page.goto(`${base}staff/login?lang=${lang}`), 'staff sign-in page');
  await page.fill('#u', username);
  await page.fill('#p', staffPassword(username));
  expectOk(await clickAndLoad(page, page.locator('form[action="/staff/login"] button[type="submit"]')), 'sign-in');
}

/** F: the officer books at the desk, in Czech, for Батболд (no internet, no e-mail). */
async function flowAssisted(page, base) {
  await staffSignIn(page, base, 'officer-praha-zizkov', 'cs');
  expectOk(await clickAndLoad(page, page.locator('a[data-assist-link]')), 'the counter page links to assisted booking');
  await expectLang(page, 'cs');
  await shot(page, 'assist', 'start');
  await runAxe(page, 'assist');
  const service = page.locator('form[action="/counter/assist/slots"]').filter({ has: page.locator('input[value="visa_sticker"]') });
  expectOk(await clickAndLoad(page, service.locator('button')), 'service button');
  const slotButtons = 'div.slots form[action="/counter/assist/identity"] button';
  const days = await page.locator('main nav a[href*="day="]').count();
  for (let i = 0; i < days && (await page.locator(slotButtons).count()) === 0; i++) {
    expectOk(await clickAndLoad(page, page.locator('main nav a[href*="day="]').nth(i)), `day link ${i + 1}`);
  }
  assert((await page.locator(slotButtons).count()) > 0, `no free time at ${page.url()}`);
  await shot(page, 'assist', 'slots');
  expectOk(await clickAndLoad(page, page.locator(slotButtons).first()), 'slot button');
  await shot(page, 'assist', 'identity');
  await runAxe(page, 'assist-identity');
  await page.fill('#rn', 'MNG-2025-004711');
  await page.fill('#pin', '1357');
  expectOk(await clickAndLoad(page, page.locator('form[action="/counter/assist/verify"]').filter({ has: page.locator('#rn') }).locator('button[type="submit"]')), 'verify');
  await page.selectOption('#locale', 'mn');
  expectOk(await clickAndLoad(page, page.locator('form[action="/counter/assist/book"] button[type="submit"]')), 'book and confirm');
  await expectLang(page, 'cs');
  const codes = (await page.locator('[data-booking-code]').allTextContents()).map((c) => c.trim());
  assert(codes.length === 1 && BOOKING_CODE.test(codes[0]), `expected one booking code, found ${JSON.stringify(codes)}`);
  assert((await page.locator('div[lang="mn"] figure.qr svg').count()) === 1, 'the confirmation (in Mongolian) has no QR code');
  assert((await page.locator('button[onclick="window.print()"]').count()) === 1, 'no print button');
  await shot(page, 'assist', 'booked');
  await runAxe(page, 'assist-booked');
  return `booked ${codes[0]} for a person without e-mail, printable in Mongolian`;
}

/** G: the administrator creates a display's enrolment link, which then enrols a display. */
async function flowDevices(page, base, open) {
  await staffSignIn(page, base, 'administrator', 'cs');
  assert(new URL(page.url()).pathname === '/admin/devices', `signing in led to ${page.url()}, expected /admin/devices`);
  await expectLang(page, 'cs');
  assert((await page.locator('tr[data-device]').count()) > 0, 'the demo devices are not listed');
  await shot(page, 'admin', 'devices');
  await runAxe(page, 'admin-devices');
  await page.selectOption('#new-office', 'brno');
  await page.selectOption('#new-kind', 'display');
  await page.fill('#new-label', 'Hala, přízemí');
  expectOk(await clickAndLoad(page, page.locator('form[action="/admin/devices"][method="post"] button[type="submit"]')), 'create');
  const token = (await page.locator('[data-token]').textContent()).trim();
  const link = (await page.locator('[data-enrolment-link]').textContent()).trim();
  assert(/^[0-9a-f]{64}$/.test(token) && link.endsWith(`/enrol/${token}`), `unexpected token ${token} or link ${link}`);
  assert((await page.locator('figure.qr svg').count()) === 1, 'no QR code for the enrolment link');
  await shot(page, 'admin', 'created');
  await runAxe(page, 'admin-device-created');
  const display = await open('admin-display', { viewport: { width: 1280, height: 720 } });
  expectOk(await display.goto(link), 'the enrolment link');
  assert(new URL(display.url()).pathname === '/display', `the link led to ${display.url()}, expected /display`);
  return 'display enrolled for Brno from a fresh link';
}

// ---------------------------------------------------------------------------------------------
// Flow H: interpreting at the counter, with Chromium's fake microphone playing a Czech sentence.

const OVERSEER = 'interpreting_overseer-praha-zizkov';
const SEGMENT_WAIT_MS = 150_000; // from the acknowledgement to the first segment on both screens
const INTERPRET_FLOW_TIMEOUT_MS = 240_000; // flow H as a whole: the models run on the CPU
const MIC_SILENCE_SECONDS = 2; // appended to the test sentence, so the voice detector closes it
const MODEL_CACHE = process.env.PREPAZKA_MODEL_CACHE || path.join(os.homedir(), '.cache/prepazka/models');
const MODEL_FILES = ['whisper-base.ggml.bin', 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf', 'testset/cs-officer-01.wav'];
const WORKER_BINARIES = ['prepazka-asr-worker', 'prepazka-mt-worker'];

/** Why flow H cannot run here (missing models or workers), or null. */
function interpretingMissing() {
  const models = MODEL_FILES.filter((f) => !fs.existsSync(path.join(MODEL_CACHE, f)));
  if (models.length > 0) {
    return `the model cache ${MODEL_CACHE} lacks ${models.join(', ')}: run scripts/setup-models and ` +
      'scripts/setup-models --testset (or set PREPAZKA_SKIP_MODEL_TESTS=1 to skip flow H)';
  }
  const workerDir = process.env.PREPAZKA_WORKER_DIR || path.dirname(binary);
  const workers = WORKER_BINARIES.filter((w) => !fs.existsSync(path.join(workerDir, w)));
  if (workers.length > 0) return `${workers.join(' and ')} missing in ${workerDir}: run cargo build --bins`;
  return null;
}

/**
 * Writes `source` (16 kHz mono 16-bit PCM WAV) followed by `seconds` of silence to `target`, as a
 * canonical 44-byte-header WAV: the fake microphone loops it, a sentence and then a pause.
 */
function writeMicWav(source, target, seconds) {
  const bytes = fs.readFileSync(source);
  assert(bytes.toString('ascii', 0, 4) === 'RIFF' && bytes.toString('ascii', 8, 12) === 'WAVE', `${source} is not a RIFF/WAVE file`);
  let format = null;
  let data = null;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = bytes.toString('ascii', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    const body = bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + size));
    if (id === 'fmt ') format = { tag: body.readUInt16LE(0), channels: body.readUInt16LE(2), rate: body.readUInt32LE(4), bits: body.readUInt16LE(14) };
    if (id === 'data') data = body;
    at += 8 + size + (size % 2);
  }
  assert(format && data, `${source} has no fmt or data chunk`);
  const { tag, channels, rate, bits } = format;
  assert(tag === 1 && channels === 1 && rate === 16_000 && bits === 16, `${source} is not 16 kHz mono 16-bit PCM: ${JSON.stringify(format)}`);
  const pcm = Buffer.concat([data, Buffer.alloc(rate * 2 * seconds)]);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28); // byte rate
  header.writeUInt16LE(2, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(pcm.length, 40);
  fs.writeFileSync(target, Buffer.concat([header, pcm]));
  return { speechSeconds: data.length / (rate * 2), totalSeconds: pcm.length / (rate * 2) };
}

/** Runs `prepazka ai-log …` on the server's data directory and database; resolves with its exit code and output. */
function aiLog(words) {
  return new Promise((resolve) => {
    const args = ['ai-log', ...words, '--data-dir', dataDir, '--database-url', databaseUrl];
    execFile(binary, args, { env: { ...process.env, RUST_LOG: 'error' }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim(), command: `prepazka ${args.join(' ')}` });
    });
  });
}

/** The ids (`n` of li#seg-n) of the segments a screen shows. */
function shownSegments(page) {
  return page.$$eval('ol#segments li.segment', (items) => items.map((li) => Number(li.id.replace(/^seg-/, ''))).sort((a, b) => a - b));
}

/** What one screen shows of its segments, with the label words of its language. */
function readSegments(page) {
  return page.evaluate(() => {
    const text = (el) => (el ? el.textContent.trim() : null);
    return {
      labels: [PZ.words['interpret-machine'], PZ.words['interpret-prepared']], // eslint-disable-line no-undef
      segments: [...document.querySelectorAll('ol#segments li.segment')].map((li) => ({
        id: li.id,
        className: li.className,
        transcript: text(li.querySelector('.transcript')),
        transcriptLang: li.querySelector('.transcript')?.lang ?? null,
        translation: text(li.querySelector('.translation')),
        translationLang: li.querySelector('.translation')?.lang ?? null,
        label: text(li.querySelector('.label')),
        withheld: text(li.querySelector('.withheld')),
      })),
    };
  });
}

/** A complete segment: a transcript and either a labelled translation or a withheld note. */
const COMPLETE_SEGMENT = () =>
  [...document.querySelectorAll('ol#segments li.segment')].some((li) => {
    const filled = (selector) => (li.querySelector(selector)?.textContent.trim() ?? '') !== '';
    return filled('.transcript') && ((filled('.translation') && filled('.label')) || filled('.withheld'));
  });

async function waitForPhase(page, phase, what) {
  try {
    await page.waitForFunction((p) => document.body.dataset.phase === p, phase, { timeout: STEP_TIMEOUT_MS });
  } catch {
    throw new CheckFailed(`${what} did not reach phase "${phase}" within ${STEP_TIMEOUT_MS / 1000} s (phase "${await page.evaluate(() => document.body.dataset.phase)}", shown "${await page.locator('#phase').innerText().catch(() => '?')}")`);
  }
}

/**
 * Counts the audio frames the page sends on its WebSocket and how many carry speech, so the
 * flow can tell that the microphone really streams (installed before the page's own script).
 */
function countAudioFrames() {
  window.__audio = { frames: 0, loud: 0 };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (data instanceof ArrayBuffer) {
      window.__audio.frames += 1;
      const samples = new Int16Array(data);
      let peak = 0;
      for (const s of samples) peak = Math.max(peak, Math.abs(s));
      if (peak > 1_000) window.__audio.loud += 1;
    }
    return send.call(this, data);
  };
}

async function flowInterpreting(officer, base, open) {
  // 1. The overseer signs in and opens a session for an English-speaking client.
  await officer.context().grantPermissions(['microphone'], { origin: new URL(base).origin });
  await officer.context().addInitScript(countAudioFrames);
  await staffSignIn(officer, base, OVERSEER, 'cs');
  expectOk(await officer.goto(`${base}interpret`), '/interpret');
  await officer.selectOption('select[name="language"]', 'en');
  expectOk(await clickAndLoad(officer, officer.locator('form[action="/interpret/start"] button[type="submit"]')), 'start');
  const id = /^\/interpret\/([^/?]+)$/.exec(new URL(officer.url()).pathname)?.[1];
  assert(id, `starting a session led to ${officer.url()}, expected /interpret/<id>`);
  await waitForPhase(officer, 'awaiting_notice', 'the officer screen');
  const clientHref = await officer.getAttribute('a#client-link', 'href');
  const clientUrl = new URL(clientHref ?? '', base);
  assert(clientUrl.pathname === `/interpret/${id}/client` && clientUrl.searchParams.get('k') && clientUrl.searchParams.get('lang') === 'en',
    `unexpected client link "${clientHref}"`);

  // 2. The client's screen shows the notice, in English, before anything else.
  const client = await open('interpret-client');
  expectOk(await client.goto(clientUrl.href), 'the client screen');
  await expectLang(client, 'en');
  const notice = (await client.locator('#notice').innerText()).replace(/\s+/g, ' ');
  assert(/artificial intelligence/i.test(notice) && /human interpreter/i.test(notice), `the notice mentions no artificial intelligence or human interpreter: "${notice}"`);
  assert((await client.locator('#notice button#ack').count()) === 1, 'the notice has no button#ack');
  await waitForPhase(client, 'awaiting_notice', 'the client screen');
  await shot(client, 'interpret', 'client-notice');
  await runAxe(client, 'interpret-notice');

  // 3. The officer speaks before the notice is acknowledged: the audio streams, nothing is
  //    processed. Wait for a whole sentence and its pause (one loop of the file), then 3 s more.
  const micClicked = Date.now();
  await officer.click('button#mic');
  try {
    await officer.waitForFunction(() => document.body.classList.contains('listening'), null, { timeout: STEP_TIMEOUT_MS });
  } catch {
    throw new CheckFailed(`the microphone did not start: "${await officer.locator('#working').innerText()}"`);
  }
  const loopFrames = Math.ceil(state.micLoopSeconds * 10) + 5; // 100 ms frames
  try {
    await officer.waitForFunction((n) => window.__audio.frames >= n && window.__audio.loud > 0, loopFrames, { timeout: STEP_TIMEOUT_MS });
  } catch {
    throw new CheckFailed(`the microphone sent too little audio before the notice: ${JSON.stringify(await officer.evaluate(() => window.__audio))}, wanted ${loopFrames} frames with speech`);
  }
  await officer.waitForTimeout(3_000);
  const before = await officer.evaluate(() => ({ ...window.__audio }));
  for (const [who, page] of [['officer', officer], ['client', client]]) {
    const early = await page.locator('li.segment').count();
    assert(early === 0, `${early} segment(s) on the ${who} screen before the notice was acknowledged`);
  }
  const working = (await officer.locator('#working').innerText()).trim();
  assert(working === '', `the officer screen shows "${working}" before the notice was acknowledged`);

  // 4. The client acknowledges; the session turns active on both screens.
  expectOk(await clickAndLoad(client, client.locator('button#ack')), 'acknowledge the notice');
  assert((await client.locator('#notice').count()) === 0, 'the notice is still shown after the acknowledgement');
  assert((await client.locator('#ai-label').count()) === 1, 'no #ai-label reminder after the acknowledgement');
  const acknowledged = Date.now();
  await waitForPhase(client, 'active', 'the client screen');
  await waitForPhase(officer, 'active', 'the officer screen');

  // 5. Within SEGMENT_WAIT_MS a segment is transcribed, translated and shown on both screens.
  try {
    await officer.waitForFunction(COMPLETE_SEGMENT, null, { timeout: SEGMENT_WAIT_MS, polling: 250 });
    await client.waitForFunction(COMPLETE_SEGMENT, null, { timeout: STEP_TIMEOUT_MS, polling: 250 });
  } catch {
    const status = async (p) => `${await p.locator('#phase').innerText().catch(() => '?')} · ${await p.locator('#working').innerText().catch(() => '?')}`;
    throw new CheckFailed(`no complete segment on both screens within ${SEGMENT_WAIT_MS / 1000} s of the acknowledgement ` +
      `(officer: ${await officer.locator('li.segment').count()} segment(s), "${await status(officer)}"; client: ${await client.locator('li.segment').count()}, "${await status(client)}"; ` +
      `audio ${JSON.stringify(await officer.evaluate(() => window.__audio))})`);
  }
  const firstAfter = Date.now() - acknowledged;
  const seen = { officer: await readSegments(officer), client: await readSegments(client) };
  for (const [who, { labels, segments }] of Object.entries(seen)) {
    const complete = segments.filter((s) => s.transcript && ((s.translation && s.label) || s.withheld));
    assert(complete.length > 0, `the ${who} screen lost its segment: ${JSON.stringify(segments)}`);
    for (const s of complete) {
      assert(s.className.split(/\s+/).includes('officer'), `${who} ${s.id} is not the officer's speech: class "${s.className}"`);
      assert(s.transcriptLang === 'cs', `${who} ${s.id}: transcript lang="${s.transcriptLang}", expected cs`);
      if (s.translation) {
        assert(s.translationLang === 'en', `${who} ${s.id}: translation lang="${s.translationLang}", expected en`);
        assert(labels.includes(s.label), `${who} ${s.id}: label "${s.label}" is neither of ${JSON.stringify(labels)}`);
      }
    }
  }
  for (const s of seen.client.segments) {
    const o = seen.officer.segments.find((x) => x.id === s.id);
    if (!o || !o.transcript || !s.transcript) continue;
    assert(o.transcript === s.transcript && o.translation === s.translation && o.withheld === s.withheld,
      `${s.id} differs between the screens: officer ${JSON.stringify(o)}, client ${JSON.stringify(s)}`);
  }
  await shot(officer, 'interpret', 'officer-segment');
  await shot(client, 'interpret', 'client-segment');
  await runAxe(officer, 'interpret-officer');
  await runAxe(client, 'interpret-client');

  // 6. Stop: the AI halts at once on both screens.
  const stop = officer.locator('form[action$="/finish"]:has(button[value="stop"]) button[value="stop"]');
  expectOk(await clickAndLoad(officer, stop), 'stop');
  await waitForPhase(officer, 'stopped', 'the officer screen');
  await waitForPhase(client, 'stopped', 'the client screen');
  const shown = await shownSegments(officer);
  const shownToClient = await shownSegments(client);
  assert(JSON.stringify(shown) === JSON.stringify(shownToClient), `the screens show different segments: officer ${shown}, client ${shownToClient}`);
  await shot(officer, 'interpret', 'officer-stopped');

  // 7. The AI log: exactly one transcription, translation and presentation record per segment
  //    shown, in that order, all after the acknowledgement; nothing presented that is not shown.
  //    The overseer exports it through the server (itself logged as log.export): the offline
  //    `prepazka ai-log export` refuses while the server holds the log.
  const bundleFile = path.join(artifacts, 'interpret-ai-log.json');
  const exported = await officer.evaluate(async (url) => {
    const r = await fetch(url);
    return { status: r.status, text: await r.text() };
  }, `${base}interpret/${id}/export`);
  assert(exported.status === 200, `GET /interpret/${id}/export answered ${exported.status}: ${exported.text.slice(0, 300)}`);
  fs.writeFileSync(bundleFile, exported.text);
  const bundle = JSON.parse(exported.text);
  assert(bundle.format === 'prepazka-ailog-export/v1' && Array.isArray(bundle.entries), `unexpected bundle format ${bundle.format}`);
  const records = bundle.entries.map((e) => ({ seq: e.seq, proof: e.proof, ...JSON.parse(e.record) }));
  for (const r of records) assert(r.session === id, `record ${r.seq} (${r.kind}) belongs to session ${r.session}, not ${id}`);
  assert(records.every((r) => Array.isArray(r.proof)), 'an exported record has no inclusion proof');
  const ofKind = (kind, segment) => records.filter((r) => r.kind === kind && (segment === undefined || r.segment === segment));
  for (const kind of ['session.start', 'notice.acknowledged', 'session.stop']) {
    assert(ofKind(kind).length === 1, `${ofKind(kind).length} ${kind} record(s), expected 1`);
  }
  const ackSeq = ofKind('notice.acknowledged')[0].seq;
  const earlyAsr = ofKind('asr.segment').filter((r) => r.seq < ackSeq);
  assert(earlyAsr.length === 0, `${earlyAsr.length} asr.segment record(s) before notice.acknowledged`);
  const withheldNotServed = new Set(seen.officer.segments.filter((s) => /direction_not_served/.test(s.withheld ?? '')).map((s) => Number(s.id.replace(/^seg-/, ''))));
  for (const n of shown) {
    const counts = ['asr.segment', 'mt.segment', 'output.presented'].map((kind) => ofKind(kind, `s${n}`));
    const wanted = [1, withheldNotServed.has(n) ? 0 : 1, 1];
    assert(counts.every((c, i) => c.length === wanted[i]),
      `segment ${n}: ${counts.map((c, i) => `${c.length} ${['asr.segment', 'mt.segment', 'output.presented'][i]}`).join(', ')}, expected ${wanted.join('/')}`);
    const seqs = counts.flat().map((r) => r.seq);
    assert(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), `segment ${n}: its records are out of order (seq ${seqs.join(', ')})`);
  }
  const presentedNotShown = ofKind('output.presented').map((r) => r.segment).filter((s) => !shown.includes(Number(s.replace(/^s/, ''))));
  assert(presentedNotShown.length === 0, `output.presented for segment(s) not on the screen: ${presentedNotShown.join(', ')}`);
  const verified = await aiLog(['verify']);
  assert(verified.code === 0, `${verified.command} exited with ${verified.code}: ${verified.output}`);
  assert(/the AI log verifies/.test(verified.output), `ai-log verify said: ${verified.output}`);

  const discarded = ofKind('output.discarded').length;
  return `${shown.length} segment(s) shown (first ${(firstAfter / 1000).toFixed(1)} s after the acknowledgement; ` +
    `${before.frames} audio frames sent before it, none processed); ${records.length} records exported` +
    `${discarded ? ` (${discarded} discarded on stop)` : ''}, one asr/mt/output record per segment, log verifies`;
}

/**
 * Runs flow H in a browser of its own, whose fake microphone loops the test sentence (Chromium
 * reads the file at launch). Resolves with whether the flow ran, so its pages count for axe.
 */
async function runInterpretingFlow(base) {
  const name = 'H: interpreting with a fake microphone (notice first, segment on both screens, AI log)';
  if (process.env.PREPAZKA_SKIP_MODEL_TESTS === '1') {
    console.log(`skip  ${name} — PREPAZKA_SKIP_MODEL_TESTS=1`);
    return false;
  }
  const missing = interpretingMissing();
  if (missing) {
    record(name, false, missing);
    return false;
  }
  const wav = path.join(artifacts, 'interpret-mic.wav');
  let browser;
  try {
    const { totalSeconds } = writeMicWav(path.join(MODEL_CACHE, 'testset/cs-officer-01.wav'), wav, MIC_SILENCE_SECONDS);
    state.micLoopSeconds = totalSeconds;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      timeout: STEP_TIMEOUT_MS,
      args: [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`,
        '--autoplay-policy=no-user-gesture-required'],
    });
  } catch (error) {
    record(name, false, `cannot start Chromium with a fake microphone: ${error.message}`);
    if (browser) await browser.close().catch(() => {});
    return false;
  }
  try {
    await runFlow(browser, base, name, 'interpret', flowInterpreting, { viewport: { width: 1280, height: 900 } }, INTERPRET_FLOW_TIMEOUT_MS);
  } finally {
    await browser.close().catch(() => {});
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Running it all

const results = [];

function record(name, ok, detail) {
  results.push({ name, ok, detail });
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}${detail ? ` — ${detail}` : ''}`);
}

/**
 * Runs one flow on a page in a fresh context. A flow that plays several people or devices gets
 * more pages, each in a context of its own, from `open(prefix, options)`; on failure every page
 * is screenshotted as `<its prefix>-FAILED.png`.
 */
async function runFlow(browser, base, name, prefix, flow, pageOptions = {}, timeoutMs = FLOW_TIMEOUT_MS) {
  const pages = [];
  const open = async (pagePrefix, options) => {
    const opened = await newPage(browser, options);
    opened.prefix = pagePrefix;
    pages.push(opened);
    return opened;
  };
  try {
    const page = await open(prefix, pageOptions);
    const detail = await withTimeout(flow(page, base, open), timeoutMs, name);
    const jsErrors = pages.flatMap((p) => p.jsErrors.map((e) => (pages.length > 1 ? `${p.prefix}: ${e}` : e)));
    assert(jsErrors.length === 0, `JavaScript errors: ${jsErrors.join('; ')}`);
    record(name, true, detail);
  } catch (error) {
    const where = pages.length === 0 ? '' : pages.length === 1 ? ` (at ${pages[0].url()})` : ` (at ${pages.map((p) => `${p.prefix} ${p.url()}`).join(', ')})`;
    record(name, false, `${error.message.split('\n')[0]}${where}`);
    if (!(error instanceof CheckFailed)) console.error(error.stack);
    for (const p of pages) {
      await p.screenshot({ path: path.join(artifacts, `${p.prefix}-FAILED.png`), fullPage: true }).catch(() => {});
    }
  } finally {
    for (const p of pages) await p.context().close().catch(() => {});
  }
}

/** The kiosk page of flow D must offer appointment check-in besides walk-in tickets. */
function checkKioskCheckIn() {
  const name = 'D: the kiosk page offers check-in (form action /kiosk/check-in)';
  const found = state.kioskCheckIn;
  if (!found) record(name, false, 'kiosk page not reached');
  else if (found.forms === 0) record(name, false, 'no form[action="/kiosk/check-in"] on /kiosk');
  else if (found.codeFields === 0) record(name, false, 'the check-in form has no input[name="booking_code"]');
  else record(name, true, `${found.forms} check-in form(s)`);
}

/** The display's latest call (tr.latest) must stand out from the page, not only carry a class. */
function checkDisplayHighlight() {
  const name = 'D: the display highlights the latest call (background of tr.latest)';
  const found = state.displayHighlight;
  if (!found) {
    record(name, false, 'no tr.latest row reached');
    return;
  }
  const none = (color) => color === 'rgba(0, 0, 0, 0)' || color === 'transparent' || color === found.body;
  const painted = [found.row, ...found.cells].filter((color) => !none(color));
  if (painted.length > 0) record(name, true, `background ${painted[0]}`);
  else record(name, false, `tr.latest and its cells have no background of their own (row ${found.row}, cells ${found.cells.join(', ')}, page ${found.body})`);
}

/** One check per axe-scanned page: fails on any serious or critical violation. */
function checkAxe(interpreting) {
  const pages = ['uk-home', 'uk-slots', 'uk-identity', 'uk-confirmed', 'kiosk', 'kiosk-ticket', 'counter', 'display', 'supervisor',
    'assist', 'assist-identity', 'assist-booked', 'admin-devices', 'admin-device-created',
    ...(interpreting ? ['interpret-notice', 'interpret-officer', 'interpret-client'] : [])];
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
  // Flow H gets its own time on top (its browser's start and the ai-log commands included).
  const runLimit = RUN_TIMEOUT_MS + INTERPRET_FLOW_TIMEOUT_MS + 30_000;
  const watchdog = setTimeout(() => {
    console.error(`the whole run took longer than ${runLimit / 1000} s; giving up`);
    console.log(`${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length + 1} failed`);
    process.exit(1);
  }, runLimit);

  let browser;
  try {
    const base = await startServer();
    console.log(`server: ${base} (data ${dataDir})`);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      timeout: STEP_TIMEOUT_MS,
      args: CHROMIUM_ARGS,
    });
    await runFlow(browser, base, 'A: booking in Ukrainian (Olena + child, consecutive)', 'uk', flowUkrainian);
    await runFlow(browser, base, 'A: manage and cancel in Ukrainian', 'uk-manage', flowManage);
    await runFlow(browser, base, 'B: booking in Vietnamese (travel document)', 'vi', flowVietnamese);
    await runFlow(browser, base, 'C: wrong PIN in Russian gives 401 and an alert', 'ru', flowRussianError);
    await runFlow(browser, base, 'D: kiosk → counter → display (Praha II – Žižkov)', 'display', flowOfficeDay, {
      viewport: { width: 1280, height: 720 },
    });
    await runFlow(browser, base, 'E: the supervisor sees the day (Praha II – Žižkov)', 'supervisor', flowSupervisor, {
      viewport: { width: 1280, height: 900 },
    });
    await runFlow(browser, base, 'F: assisted booking at the desk, printed confirmation', 'assist', flowAssisted);
    await runFlow(browser, base, 'G: the administrator enrols a display', 'admin', flowDevices);
    const interpreting = await runInterpretingFlow(base);
    checkKioskCheckIn();
    checkDisplayHighlight();
    checkAxe(interpreting);
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
