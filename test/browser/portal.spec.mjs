// The portal in a real browser: headless Chromium (Debian's, never a
// downloaded one) driven by playwright-core, against a node that
// portal_browser_test.sh started. Plain Node, no test runner: one line per
// check ("ok   ..." / "FAIL ..."), then "N passed, N failed"; the exit code
// is non-zero on any failure.
//
// Usage: node portal.spec.mjs FIXTURE.json (written by
// portal_browser_test.sh: portal and ingress URLs, the CA, a scratch
// folder, users, passwords, message ids).
//
// To add flows: write an async function that takes the browser, open
// pages with newPage() (adminPage() for the admin root's), log in with
// login(), assert with check(), take a screenshot of each page with
// shot(), and add it to `flows` at the bottom. Every page newPage() opens
// is watched: dialogs, console errors, page errors, CSP violations and
// each document's CSP header are checked for all of them at the end.

import { chromium } from 'playwright-core';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

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
    failedResources: [], // { url, error, text } of style sheets and the like that did not load
    downloads: [], // URLs of the downloads the page started
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
      watch.failedResources.push({
        url: response.url(), error: status, text: `${status} ${response.url()} (on ${page.url()})`,
      });
    }
  });
  page.on('requestfailed', (request) => {
    const error = request.failure()?.errorText;
    watch.failedResources.push({
      url: request.url(), error, text: `${error} ${request.url()} (on ${page.url()})`,
    });
  });
  page.on('download', (download) => {
    watch.downloads.push(download.url());
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

/// Polls COND (a function, async or not) every EVERY ms until it holds
/// or timeoutMs has passed; returns whether it held.
async function eventually(cond, every = 50) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, every));
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

/// Whether PAGE links to message ID (the list links each row's time;
/// BASE is /admin/messages on All messages).
async function listsMessage(page, id, base = '/messages') {
  return (await page.locator(`a[href="${base}/${id}"]`).count()) > 0;
}

/// The text of each cell of each row of the table body SELECTOR.
async function tableRows(page, selector) {
  return page.locator(`${selector} tbody tr`).evaluateAll((rows) => rows.map(
    (row) => Array.from(row.cells, (cell) => cell.textContent.trim())));
}

/// Goes to the admin page PATH through the navigation bar, as an admin
/// would.
async function navigate(page, path) {
  await page.click(`#nav a[href="${path}"]`);
  await page.waitForURL((u) => u.pathname === path);
}

const run = promisify(execFile);

/// A message submission to the ingress over mutual TLS with the key and
/// certificate in the PEM file PEM (curl, as a client application
/// would): { status, exit }, the HTTP status (0 without an answer) and
/// curl's exit code (35 or 56 when the TLS handshake was refused).
async function submitWith(pem) {
  const args = ['-s', '--max-time', '10', '--cacert', fixture.ca,
    '--cert', pem, '--key', pem, '-o', '/dev/null', '-w', '%{http_code}',
    '-H', 'Content-Type: application/json',
    '-H', `Idempotency-Key: browser-${process.hrtime.bigint()}`,
    '-d', JSON.stringify({ sender_number: '+4915155500088', message_body: 'over mutual TLS' }),
    `${fixture.ingress}/api/v1/messages`];
  try {
    return { status: Number((await run('curl', args)).stdout), exit: 0 };
  } catch (error) { // curl ends non-zero when the handshake fails
    return { status: Number(error.stdout) || 0, exit: error.code };
  }
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
  check('... and offers her no admin page',
    (await page.locator('#nav a[href^="/admin"]').count()) === 0);
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
  await page.goto(url('/admin'));
  check('the admin overview is forbidden to alice (403)',
    page.watch.documents.at(-1)?.status === 403);
  page.watch.allowedErrors.push(/status of 403 .*\/admin\)$/);

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

// -- admin flows --------------------------------------------------------------
// They run in this order: the overview counts the test's messages before
// anything else submits one; the audit log then holds the requeue; the
// users page counts the client issued before it.

/// The admin root's session (cookies), after the first login.
let adminSession = null;

/// A page of a fresh context with the admin root logged in: through the
/// form the first time, with that session's cookie afterwards (a login
/// costs a second or two of password hashing).
async function adminPage(browser) {
  if (adminSession) {
    const page = await newPage(browser, { storageState: adminSession });
    await page.goto(url('/messages'));
    return page;
  }
  const page = await newPage(browser);
  await login(page, 'root', users.root.password);
  adminSession = await page.context().storageState();
  return page;
}

async function adminOverview(browser) {
  const page = await adminPage(browser);
  check('the admin root logs in through the form', pathOf(page) === '/messages', page.url());
  const nav = await page.locator('#nav a').allTextContents();
  const adminPages = ['Overview', 'Users', 'Clients', 'All messages', 'Failed', 'Audit log'];
  check('... and the navigation has the admin pages',
    adminPages.every((name) => nav.includes(name)), nav.join(', '));
  await navigate(page, '/admin');
  // overview.js draws the chart with Chart.js once /admin/overview.json
  // is in: wait until the canvas has a chart with painted pixels.
  const chart = await page.waitForFunction(() => {
    const canvas = document.getElementById('per-minute-chart');
    const drawn = typeof Chart === 'function' && canvas ? Chart.getChart(canvas) : undefined;
    if (!drawn || canvas.width === 0 || canvas.height === 0) {
      return false;
    }
    const pixels = canvas.getContext('2d')
      .getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) {
      painted += pixels[i] > 0 ? 1 : 0;
    }
    const sum = (values) => values.reduce((a, b) => a + b, 0);
    return painted > 0 && {
      version: Chart.version,
      painted,
      minutes: drawn.data.labels.length,
      series: Object.fromEntries(drawn.data.datasets.map((d) => [d.label, sum(d.data)])),
    };
  }).then((handle) => handle.jsonValue()).catch(() => null);
  check('the overview draws its chart (Chart.js from the portal, in the canvas)',
    chart !== null, 'no chart with painted pixels within 10 s');
  if (chart) {
    console.log(`     (Chart.js ${chart.version}, ${chart.painted} pixels painted)`);
  }
  check('... over the last 60 minutes', chart?.minutes === 60, JSON.stringify(chart));
  // The test submitted five messages: four delivered, one failed.
  const totals = {
    Accepted: await page.locator('#accepted-total').textContent(),
    Delivered: await page.locator('#delivered-total').textContent(),
    Failed: await page.locator('#failed-total').textContent(),
  };
  const expected = { Accepted: '5', Delivered: '4', Failed: '1' };
  check('... the totals count the test\'s messages (5 accepted, 4 delivered, 1 failed)',
    JSON.stringify(totals) === JSON.stringify(expected), JSON.stringify(totals));
  check('... and the chart\'s series add up to the same',
    Object.keys(expected).every((name) => String(chart?.series?.[name]) === expected[name]),
    JSON.stringify(chart?.series));
  check('... the queue is empty',
    await page.locator('#queue-depth').textContent() === '0');
  await shot(page, 'admin-overview');
  await page.context().close();
}

async function adminFailedRequeue(browser) {
  const { id } = messages.failed;
  const page = await adminPage(browser);
  await navigate(page, '/admin/failed');
  const box = page.locator(`#failed input[type=checkbox][value="${id}"]`);
  check(`Failed messages lists the failed message (${id})`, (await box.count()) === 1);
  // Columns: select, failed at, client, owner, sender, attempts, last error.
  const row = await page.locator('#failed tbody tr')
    .filter({ has: page.locator(`input[value="${id}"]`) })
    .locator('td').allTextContents().then((cells) => cells.map((c) => c.trim()));
  check('... with its client, owner, masked sender and last error',
    row[2] === 'app-a' && row[3] === 'alice' && row[4] === '+49****77'
    && row[6]?.startsWith('expired'), JSON.stringify(row));

  // A look at it changes nothing and shows no body.
  await page.click(`#failed a[href="/admin/failed/${id}"]`);
  await page.waitForURL(`**/admin/failed/${id}`);
  check('its page shows it failed, with the last error',
    await page.locator('#status').textContent() === 'failed'
    && (await page.locator('#last-error').textContent()).startsWith('expired'));
  check('... not its body, and offers a Requeue',
    (await page.locator('#body').count()) === 0 && await page.locator('#requeue').isVisible());
  await page.goBack();

  await page.locator(`#failed input[type=checkbox][value="${id}"]`).check();
  await shot(page, 'admin-failed');
  await page.click('#requeue-checked');
  await page.locator('#requeued-count').waitFor();
  check('Requeue selected requeues it ("Requeued 1 messages", 0 skipped)',
    await page.locator('#requeued-count').textContent() === '1'
    && await page.locator('#skipped').textContent() === '0');
  check('... and names it', (await page.locator(`#requeued a[href="/admin/messages/${id}"]`).count()) === 1);
  await navigate(page, '/admin/failed');
  check('... it has left the failed list',
    (await page.locator(`#failed input[value="${id}"]`).count()) === 0
    && await page.locator('#no-failed').isVisible());
  const delivered = await eventually(async () => {
    await page.goto(url(`/admin/messages/${id}`));
    return await page.locator('#status').textContent() === 'delivered';
  }, 100);
  check('... and is delivered (its page says so)', delivered,
    `status: ${await page.locator('#status').textContent()}`);
  await page.context().close();
}

async function adminRevealAndAudit(browser) {
  const { code, bob } = messages;
  const page = await adminPage(browser);
  await navigate(page, '/admin/messages');
  const rows = await tableRows(page, '#messages');
  const owners = rows.map((cells) => cells[3]);
  check('All messages lists every user\'s messages, with their owner',
    await listsMessage(page, code.id, '/admin/messages')
    && await listsMessage(page, bob.id, '/admin/messages')
    && owners.includes('alice') && owners.includes('bob'), JSON.stringify(owners));
  check('... the senders masked, never in full',
    !(await page.content()).includes(code.sender.slice(1)));

  await page.click(`a[href="/admin/messages/${code.id}"]`);
  await page.waitForURL(`**/admin/messages/${code.id}`);
  check('a message\'s page hides its body and offers Reveal body',
    (await page.locator('#body').count()) === 0 && await page.locator('#reveal').isVisible());
  await page.click('#reveal');
  await page.locator('#body').waitFor();
  check('Reveal body shows the body, as text',
    await page.locator('#body').textContent() === code.body
    && (await page.locator('#body *').count()) === 0);
  check('... and says the audit log records it',
    (await page.locator('#notice').textContent()).includes('audit log'));
  await shot(page, 'admin-message-revealed');

  await navigate(page, '/admin/audit');
  check('the audit log says the chain is verified',
    (await page.locator('#chain-status').textContent()).startsWith('Chain verified'));
  await page.fill('#action', 'message.');
  await page.click('#search');
  await page.waitForURL(/[?&]action=message\./);
  const events = await tableRows(page, '#audit');
  // Columns: #, at, actor, action, target, outcome, source, detail.
  const has = (action, target) => events.some((cells) => cells[2] === 'root'
    && cells[3] === action && cells[4] === target && cells[5] === 'ok');
  check(`... it has the reveal (message.reveal by root of ${code.id})`,
    has('message.reveal', code.id), JSON.stringify(events));
  check(`... and the requeue (message.requeue by root of ${messages.failed.id})`,
    has('message.requeue', messages.failed.id), JSON.stringify(events));
  check('... and only message events under that filter',
    events.length > 0 && events.every((cells) => cells[3].startsWith('message.')));
  await shot(page, 'admin-audit');
  await page.context().close();
}

async function adminClientCertificate(browser) {
  const page = await adminPage(browser);
  await navigate(page, '/admin/clients');
  check('Clients offers to create and issue (the node has the CA key)',
    await page.locator('#create-client').isVisible());
  await page.fill('#client-name', 'app-browser');
  await page.fill('#client-owner', 'alice');
  await page.fill('#client-days', '30');
  await page.selectOption('#client-format', 'pem');
  await page.click('#create-client button[type=submit]');
  await page.locator('#serial').waitFor();
  const serial = (await page.locator('#serial').textContent()).trim();
  check('Create and issue shows the new certificate (201)',
    page.watch.documents.at(-1)?.status === 201 && /^[0-9A-F]{16,}$/.test(serial), serial);
  check('... and not its key', !(await page.content()).includes('PRIVATE KEY'));
  const form = await page.locator('#download').evaluate((f) => ({
    method: f.method, csrf: f.elements.csrf?.value ?? '',
  }));
  check('... which is one download: a POST with the CSRF token',
    form.method === 'post' && /^[0-9a-f]{16,}$/.test(form.csrf), JSON.stringify(form));
  await shot(page, 'admin-issued');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#download button[type=submit]'),
  ]);
  const pem = join(fixture.scratch, 'app-browser.pem');
  await download.saveAs(pem);
  const failure = await download.failure();
  check('the download is app-browser.pem', failure === null
    && download.suggestedFilename() === 'app-browser.pem',
    `${download.suggestedFilename()} ${failure ?? ''}`);
  const text = readFileSync(pem, 'utf8');
  check('... with the private key and the certificate',
    text.includes('-----BEGIN PRIVATE KEY-----') && text.includes('-----BEGIN CERTIFICATE-----'));
  const shown = (await run('openssl', ['x509', '-in', pem, '-noout', '-serial'])).stdout.trim();
  check('... the certificate the page named', shown === `serial=${serial}`, shown);
  check('the downloaded key and certificate submit a message over mutual TLS (202)',
    await eventually(async () => (await submitWith(pem)).status === 202, 250));

  page.watch.allowedErrors.push(/status of 410 .*\/admin\/downloads\/[0-9a-f]+\)$/);
  await page.click('#download button[type=submit]');
  await page.waitForURL('**/admin/downloads/*');
  check('a second download is gone (410)',
    page.watch.documents.at(-1)?.status === 410
    && (await page.locator('#error-detail').textContent()).includes('used already'));

  // The error page has no navigation bar.
  await page.goto(url('/admin/clients'));
  const card = page.locator('.client')
    .filter({ has: page.locator('strong').getByText('app-browser', { exact: true }) });
  const row = card.locator('tbody tr').filter({ hasText: serial });
  check('Clients lists app-browser, owned by alice, its certificate active',
    (await card.locator('.card-header').textContent()).includes('owner alice')
    && (await row.locator('td').nth(3).textContent()).trim() === 'active');
  await row.locator('select[name=reason]').selectOption('keyCompromise');
  await row.locator('button', { hasText: 'Revoke' }).click();
  await page.locator('#notice').waitFor();
  const notice = await page.locator('#notice').textContent();
  check('Revoke (keyCompromise) revokes it and publishes a CRL',
    notice.includes(`Certificate ${serial} revoked (keyCompromise)`)
    && notice.includes('fresh CRL'), notice);
  check('... the page shows it revoked, with no Revoke left',
    (await row.locator('td').nth(3).textContent()).trim() === 'revoked (keyCompromise)'
    && (await row.locator('button').count()) === 0);
  await shot(page, 'admin-clients');
  // Refused: in the TLS handshake or with a 401/403; not a failure of
  // curl's own (a file it cannot read, say).
  let refusal = { status: 202 };
  await eventually(async () => (refusal = await submitWith(pem)).status !== 202, 250);
  const how = refusal.status ? `HTTP ${refusal.status}` : `handshake, curl exit ${refusal.exit}`;
  check(`... and the ingress refuses it (${how})`,
    [401, 403].includes(refusal.status) || [35, 56].includes(refusal.exit),
    JSON.stringify(refusal));
  await page.context().close();
}

async function adminUsers(browser) {
  const page = await adminPage(browser);
  await navigate(page, '/admin/users');
  // Columns: name, role, status, clients, created, password set, actions.
  const rows = Object.fromEntries((await tableRows(page, '#users'))
    .map((cells) => [cells[0], cells.slice(1, 4).join(' ')]));
  check('Users lists root (admin), alice (two clients, one just issued) and bob',
    rows.root === 'admin active 0' && rows.alice === 'user active 2'
    && rows.bob === 'user active 1', JSON.stringify(rows));
  const own = page.locator('#users tbody tr').filter({ hasText: 'root' }).first();
  check('... and offers root no Disable or role change of their own account',
    (await own.locator('button', { hasText: /Disable|Make/ }).count()) === 0);
  await shot(page, 'admin-users');
  await page.context().close();
}

/// After all flows: nothing a page did that it must not.
function nothingUnexpected() {
  const all = (key) => watched.flatMap((page) => page.watch[key]);
  const unexpectedErrors = watched.flatMap((page) => page.watch.consoleErrors
    .filter((text) => !page.watch.allowedErrors.some((re) => re.test(text))));
  const documents = all('documents');
  // Chromium ends a navigation that turns into a download (the one-time
  // key download) with ERR_ABORTED: that is no failure to load.
  const failedResources = watched.flatMap((page) => page.watch.failedResources
    .filter((f) => !(f.error === 'net::ERR_ABORTED' && page.watch.downloads.includes(f.url)))
    .map((f) => f.text));
  check('no page opened a dialog (alert, confirm, prompt)',
    all('dialogs').length === 0, all('dialogs').join('\n     '));
  check('no page reported a CSP violation',
    all('violations').length === 0, all('violations').join('\n     '));
  check('no page logged a console error',
    unexpectedErrors.length === 0, unexpectedErrors.join('\n     '));
  check('no page threw a script error', all('pageErrors').length === 0,
    all('pageErrors').join('\n     '));
  check('every style sheet and image loaded', failedResources.length === 0,
    failedResources.join('\n     '));
  const weak = documents.filter((d) => !forbidsScripts(d.csp));
  check(`every page shown (${documents.length}) had a CSP that forbids inline and foreign scripts`,
    documents.length > 0 && weak.length === 0,
    weak.map((d) => `${d.status} ${d.url}: ${d.csp || 'no CSP'}`).join('\n     '));
}

// -- main ---------------------------------------------------------------------

const flows = [loginPageAndWrongPassword, aliceMessages, phoneView, cspIsEnforced,
  adminOverview, adminFailedRequeue, adminRevealAndAudit, adminClientCertificate, adminUsers];

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
