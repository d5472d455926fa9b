// The portal in a real browser: headless Chromium (Debian's, never a
// downloaded one) driven by playwright-core, against a node that
// portal_browser_test.sh started. Plain Node, no test runner: one line per
// check ("ok   ..." / "FAIL ..."), then "N passed, N failed"; the exit code
// is non-zero on any failure.
//
// Usage: node portal.spec.mjs FIXTURE.json (written by
// portal_browser_test.sh: portal URL, users, passwords, message ids).
//
// To add flows (the admin pages, say): write an async function that takes
// the browser, open pages with newPage(), log in with login(), assert with
// check(), take a screenshot of each page with shot(), and add it to
// `flows` at the bottom. Every page newPage() opens is watched: dialogs,
// console errors, page errors, CSP violations and each document's CSP
// header are checked for all of them at the end.

import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const fixture = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { portal, users, messages } = fixture;
const artefacts = fixture.artefacts;

const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };
const timeoutMs = 10_000; // for each wait; the portal answers in ms
const deadlineMs = 90_000; // for the whole spec

// -- checks and screenshots ---------------------------------------------------

let passed = 0;
let failed = 0;

/// One test step: prints "ok   NAME" or "FAIL NAME" (with DETAIL).
function check(name, cond, detail = '') {
  if (cond) {
    passed += 1;
    console.log(`ok   ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${name}${detail ? `\n     ${detail}` : ''}`);
  }
  return cond;
}

function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

const shots = [];

/// A PNG of what PAGE shows now (its viewport), as ARTEFACTS/NAME.png.
async function shot(page, name) {
  const path = join(artefacts, `${name}.png`);
  await page.screenshot({ path });
  shots.push(path);
}

// -- watched pages ------------------------------------------------------------

/// The pages newPage() opened; page.watch holds what each one did.
const watched = [];

/// Runs in every page before the portal's own HTML: reports each CSP
/// violation to the spec. (Scripts of the test itself are not subject to
/// the page's CSP; the portal's would be, and it has none.)
function reportViolations() {
  document.addEventListener('securitypolicyviolation', (e) => {
    window.heraldViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
  });
}

/// A new page in a new context of BROWSER, watched. OPTIONS go to
/// newContext (viewport, isMobile, ...). Returns the page; page.watch
/// holds what was seen.
async function newPage(browser, options = {}) {
  const context = await browser.newContext({
    viewport: desktop,
    // The node's certificate comes from the test's own CA, which this
    // fresh profile does not know; Chromium pins its key instead
    // (--ignore-certificate-errors-spki-list at launch).
    ...options,
  });
  context.setDefaultTimeout(timeoutMs);
  const watch = {
    dialogs: [],
    consoleErrors: [],
    pageErrors: [],
    violations: [],
    failedResources: [], // style sheets and the like that did not load
    documents: [], // { url, status, csp } of every page shown
    allowedErrors: [], // regexps of console errors a flow expects
  };
  await context.exposeBinding('heraldViolation', ({ page }, text) => {
    watch.violations.push(`${text} (on ${page.url()})`);
  });
  await context.addInitScript(reportViolations);
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    watch.dialogs.push(`${dialog.type()} "${dialog.message()}" (on ${page.url()})`);
    dialog.dismiss().catch(() => {});
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      watch.consoleErrors.push(`${msg.text()} (${msg.location()?.url || page.url()})`);
    }
  });
  page.on('pageerror', (error) => {
    watch.pageErrors.push(`${error.message} (on ${page.url()})`);
  });
  page.on('response', (response) => {
    const status = response.status();
    if (response.request().isNavigationRequest()
        && response.frame() === page.mainFrame()
        && (status < 300 || status >= 400)) {
      watch.documents.push({
        url: response.url(),
        status,
        csp: response.headers()['content-security-policy'] ?? '',
      });
    } else if (status >= 400) {
      watch.failedResources.push(`${status} ${response.url()} (on ${page.url()})`);
    }
  });
  page.on('requestfailed', (request) => {
    watch.failedResources.push(`${request.failure()?.errorText} ${request.url()} (on ${page.url()})`);
  });
  page.watch = watch;
  watched.push(page);
  return page;
}

/// Whether the Content-Security-Policy CSP allows no script but the
/// portal's own files: the policies for script elements and for inline
/// event handlers (each falls back to script-src, then default-src) name
/// nothing but 'self' or 'none' (no 'unsafe-inline', hash, nonce or other
/// origin). The admin overview loads its chart script from the portal.
function forbidsScripts(csp) {
  const directives = new Map();
  for (const directive of csp.split(';')) {
    const [name, ...values] = directive.trim().split(/\s+/);
    if (name) {
      directives.set(name.toLowerCase(), values.join(' '));
    }
  }
  const effective = (name) => directives.get(name)
    ?? directives.get('script-src') ?? directives.get('default-src');
  const ownOnly = (value) => value !== undefined && value.split(' ')
    .every((source) => source === "'self'" || source === "'none'");
  return ['script-src-elem', 'script-src-attr'].every((name) => ownOnly(effective(name)));
}

/// Polls COND (a plain function) every 50 ms until it holds or
/// timeoutMs has passed; returns whether it held.
async function eventually(cond) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

// -- portal helpers -----------------------------------------------------------

const url = (path) => `${portal}${path}`;
const pathOf = (page) => new URL(page.url()).pathname;

/// Logs USER in through the login form with PASSWORD; returns when the
/// next page shows either the messages list or the login page's problem.
async function login(page, user, password) {
  await page.goto(url('/login'));
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.locator('#messages, #login-problem').first().waitFor();
}

/// Whether PAGE links to message ID (the list links each row's time).
async function listsMessage(page, id) {
  return (await page.locator(`a[href="/messages/${id}"]`).count()) > 0;
}

/// Opens message ID's detail page and checks that its body is shown as
/// exactly BODY, as text: no element inside, no script or image anywhere
/// on the page.
async function bodyIsInert(page, name, id, body) {
  await page.goto(url(`/messages/${id}`));
  const shown = await page.locator('#body').textContent();
  check(`${name}: the body is shown as the text it is`, shown === body,
    `shown: ${JSON.stringify(shown)}`);
  check(`${name}: ... with no element inside it`,
    (await page.locator('#body *').count()) === 0);
  const counts = await page.evaluate(() => ({
    scripts: document.scripts.length, images: document.images.length,
  }));
  check(`${name}: ... and the page has no script and no image`,
    counts.scripts === 0 && counts.images === 0, JSON.stringify(counts));
}

// -- flows --------------------------------------------------------------------

async function loginPageAndWrongPassword(browser) {
  const page = await newPage(browser);
  await page.goto(url('/messages'));
  check('without a session /messages goes to the login page',
    pathOf(page) === '/login', page.url());
  check('the login page shows the form',
    await page.locator('#username').isVisible()
    && await page.locator('#password').isVisible());
  await shot(page, 'login');

  // The 401 of a failed login is a console error in Chromium: expected.
  page.watch.allowedErrors.push(/status of 401 .*\/login\)$/);
  await login(page, 'alice', 'not-alices-password-1');
  check('a wrong password keeps alice on the login page',
    pathOf(page) === '/login', page.url());
  const problem = await page.locator('#login-problem').textContent().catch(() => null);
  check('... and shows the error "Wrong user name or password."',
    problem?.trim() === 'Wrong user name or password.', `shown: ${problem}`);
  check('... with the name kept and the password field empty',
    await page.inputValue('#username') === 'alice'
    && await page.inputValue('#password') === '');
  await shot(page, 'login-failed');
  await page.context().close();
}

async function aliceMessages(browser) {
  const page = await newPage(browser);
  await login(page, 'alice', users.alice.password);
  check('alice logs in through the form and lands on My messages',
    pathOf(page) === '/messages', page.url());
  check('... which names her at the top',
    (await page.locator('#current-user').textContent())?.includes('alice'));
  const csp = page.watch.documents.at(-1)?.csp ?? '';
  check("... with a CSP that forbids inline and foreign scripts",
    forbidsScripts(csp), `Content-Security-Policy: ${csp}`);
  for (const which of ['script', 'img', 'code']) {
    check(`alice sees her message "${which}" (${messages[which].id})`,
      await listsMessage(page, messages[which].id));
  }
  check(`... and not bob's (${messages.bob.id})`,
    !(await listsMessage(page, messages.bob.id)));
  const html = await page.content();
  check('... with the senders masked, never in full',
    ['script', 'img', 'code'].every((m) => !html.includes(messages[m].sender.slice(1))));
  await shot(page, 'messages');

  // Search by exact sender, through the form.
  await page.fill('#sender', messages.script.sender);
  await page.click('#search');
  await page.waitForURL(/[?&]sender=/);
  check('a search by sender goes to a bookmarkable URL',
    new URL(page.url()).searchParams.get('sender') === messages.script.sender, page.url());
  check('... that lists the message of that sender',
    await listsMessage(page, messages.script.id));
  check('... and only it',
    !(await listsMessage(page, messages.img.id))
    && !(await listsMessage(page, messages.code.id))
    && (await page.locator('#messages tbody tr').count()) === 1);
  check('... and keeps the sender in the form',
    await page.inputValue('#sender') === messages.script.sender);
  await shot(page, 'search');

  // The detail page, reached by clicking the row.
  await page.click(`a[href="/messages/${messages.script.id}"]`);
  await page.waitForURL(`**/messages/${messages.script.id}`);
  check('clicking the row opens the message', pathOf(page) === `/messages/${messages.script.id}`);
  await bodyIsInert(page, 'a <script> body', messages.script.id, messages.script.body);
  await shot(page, 'message');
  await bodyIsInert(page, 'an "><img onerror> body', messages.img.id, messages.img.body);
  await shot(page, 'message-img');

  await page.goto(url(`/messages/${messages.bob.id}`));
  check("bob's message does not exist for alice (404)",
    page.watch.documents.at(-1)?.status === 404);
  page.watch.allowedErrors.push(new RegExp(`status of 404 .*/messages/${messages.bob.id}\\)$`));

  // Log out with the button at the top.
  await page.goto(url('/messages'));
  await page.click('button:has-text("Log out")');
  await page.waitForURL('**/login');
  check('Log out goes back to the login page',
    pathOf(page) === '/login' && await page.locator('#password').isVisible(), page.url());
  await shot(page, 'logged-out');
  await page.goto(url('/messages'));
  check('... and the session is over: /messages goes to the login page',
    pathOf(page) === '/login', page.url());
  await page.context().close();
}

async function phoneView(browser) {
  const page = await newPage(browser, {
    viewport: phone, isMobile: true, hasTouch: true, deviceScaleFactor: 1,
  });
  await login(page, 'alice', users.alice.password);
  check('on a phone (390x844) alice logs in to My messages',
    pathOf(page) === '/messages', page.url());
  const width = await page.evaluate(() => ({
    scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth,
  }));
  check('... and the page does not scroll sideways (scrollWidth <= innerWidth)',
    width.scroll <= width.inner, `scrollWidth ${width.scroll}, innerWidth ${width.inner}`);
  await shot(page, 'messages-phone');
  await page.goto(url(`/messages/${messages.script.id}`));
  const detailWidth = await page.evaluate(() => ({
    scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth,
  }));
  check('... nor does a message',
    detailWidth.scroll <= detailWidth.inner,
    `scrollWidth ${detailWidth.scroll}, innerWidth ${detailWidth.inner}`);
  await shot(page, 'message-phone');
  await page.context().close();
}

/// The watchers themselves can see a violation: a script the test puts
/// into a portal page does not run, and is reported. Without this, "no
/// violations" could mean "not watching".
async function cspIsEnforced(browser) {
  const page = await newPage(browser);
  await page.goto(url('/login'));
  const ran = await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.heraldInjected = true;';
    document.body.append(script);
    return window.heraldInjected === true;
  });
  check('the browser enforces the CSP: an injected inline script does not run', !ran);
  const seen = await eventually(() => page.watch.violations.some((v) => v.startsWith('script-src')));
  check('... and the violation is seen (the watchers work)', seen,
    JSON.stringify(page.watch.violations));
  // This page's violation and console error were the point: not counted below.
  watched.splice(watched.indexOf(page), 1);
  await page.context().close();
}

/// After all flows: nothing a page did that it must not.
function nothingUnexpected() {
  const all = (key) => watched.flatMap((page) => page.watch[key]);
  const unexpectedErrors = watched.flatMap((page) => page.watch.consoleErrors
    .filter((text) => !page.watch.allowedErrors.some((re) => re.test(text))));
  const documents = all('documents');
  check('no page opened a dialog (alert, confirm, prompt)',
    all('dialogs').length === 0, all('dialogs').join('\n     '));
  check('no page reported a CSP violation',
    all('violations').length === 0, all('violations').join('\n     '));
  check('no page logged a console error',
    unexpectedErrors.length === 0, unexpectedErrors.join('\n     '));
  check('no page threw a script error', all('pageErrors').length === 0,
    all('pageErrors').join('\n     '));
  check('every style sheet and image loaded', all('failedResources').length === 0,
    all('failedResources').join('\n     '));
  const weak = documents.filter((d) => !forbidsScripts(d.csp));
  check(`every page shown (${documents.length}) had a CSP that forbids inline and foreign scripts`,
    documents.length > 0 && weak.length === 0,
    weak.map((d) => `${d.status} ${d.url}: ${d.csp || 'no CSP'}`).join('\n     '));
}

// -- main ---------------------------------------------------------------------

const flows = [loginPageAndWrongPassword, aliceMessages, phoneView, cspIsEnforced];

setTimeout(() => {
  check(`the spec ends within ${deadlineMs / 1000} s`, false);
  finish();
  process.exit(1); // playwright-core kills its browser on exit
}, deadlineMs).unref();

const browser = await chromium.launch({
  executablePath: fixture.chromium,
  args: ['--headless', '--no-sandbox',
    `--ignore-certificate-errors-spki-list=${fixture.spki}`],
});
try {
  console.log(`browser: Chromium ${browser.version()}`);
  for (const flow of flows) {
    const started = Date.now();
    console.log(`--- ${flow.name}`);
    try {
      await flow(browser);
    } catch (error) {
      check(`${flow.name} ran to its end`, false, error.message.split('\n')[0]);
    }
    console.log(`    (${Date.now() - started} ms)`);
  }
  console.log('--- every page');
  nothingUnexpected();
} finally {
  await browser.close();
}
console.log(`screenshots (${shots.length}) in ${artefacts}:`);
for (const path of shots) {
  console.log(`  ${path}`);
}
finish();
