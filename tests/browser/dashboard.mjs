// The dashboard in a real browser (playwright-core driving Debian's chromium): log in, read the
// overview, search a customer, open the profile, build and save a segment, on a desktop and a
// phone screen, with screenshots written to docs/screenshots. Every number checked comes from an
// independent source: the CDNOW file itself, or `clv score` run on it.
//
// Usage: node tests/browser/dashboard.mjs [path/to/clv]   (default target/debug/clv)
// Exits non-zero with the reason on the first failure.

import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const clv = process.argv[2] ?? join(root, "target/debug/clv");
const cdnow = join(root, "tests/data/CDNOW_sample.txt");
const shots = join(root, "docs/screenshots");
mkdirSync(shots, { recursive: true });

// What the file says: customers, orders (lines) and revenue.
const lines = readFileSync(cdnow, "utf8").trim().split("\n").map((l) => l.trim().split(/\s+/));
const fileCustomers = new Set(lines.map((f) => f[1])).size;
const fileRevenue = lines.reduce((sum, f) => sum + Number(f[4]), 0);

// What `clv score` says on the same file, as of the same day the demo shop is scored.
const work = mkdtempSync(join(tmpdir(), "clv-browser-"));
const scoresPath = join(work, "scores.json");
execFileSync(clv, ["score", cdnow, "--customer-col", "2", "--date-col", "3", "--amount-col", "5",
  "--observation-end", "1998-06-30", "--threads", "1", "-o", scoresPath], { stdio: "inherit" });
const scores = new Map(JSON.parse(readFileSync(scoresPath, "utf8")).map((r) => [r.customer_id, r]));

const fixed = (x, digits) =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

// The demo server on a free loopback port; its first lines say where it listens and the login.
const server = spawn(clv, ["serve", "--demo", "--listen", "127.0.0.1:0"], {
  stdio: ["ignore", "ignore", "pipe"],
});
const banner = await new Promise((resolve, reject) => {
  let text = "";
  const timer = setTimeout(() => reject(new Error(`no login line from clv serve:\n${text}`)), 120_000);
  server.stderr.on("data", (chunk) => {
    text += chunk;
    if (/password \S+\)/.test(text)) {
      clearTimeout(timer);
      resolve(text);
    }
  });
  server.on("exit", (code) => reject(new Error(`clv serve exited (${code}):\n${text}`)));
});
const base = banner.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)[1];
const [, email, password] = banner.match(/log in as (\S+), password (\S+)\)/);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const problems = [];
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  // A refusal the test provokes is logged by the browser too: take it off the list.
  const expectRefusal = (status) => {
    const at = problems.findIndex((p) => p.includes(`status of ${status}`));
    assert.ok(at >= 0, `the browser saw the ${status}`);
    problems.splice(at, 1);
  };
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // Nothing but this server is ever asked for (no CDN, no fonts).
  page.on("request", (r) => {
    if (!r.url().startsWith(base)) problems.push(`request to another origin: ${r.url()}`);
  });

  // Not logged in: every page sends to the login form; a wrong password is refused.
  await page.goto(`${base}/customers`);
  assert.equal(new URL(page.url()).pathname, "/login");
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", "not the password");
  await page.click("button[type=submit]");
  assert.match(await page.textContent("[role=alert]"), /Wrong email or password/);
  expectRefusal(401);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/`);

  // The session cookie is out of scripts' reach.
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "clv_session");
  assert.ok(session && session.httpOnly && session.sameSite === "Lax", JSON.stringify(cookies));
  assert.ok(!(await page.evaluate(() => document.cookie)).includes("clv_session"));

  // Overview: the headline numbers are the file's.
  const metric = async (label) =>
    page.textContent(`.metric:has(.label:text-is("${label}")) .value`);
  assert.equal(await metric("customers"), fixed(fileCustomers, 0));
  assert.equal(await metric("orders"), fixed(lines.length, 0));
  assert.equal(await metric("revenue"), `${fixed(fileRevenue, 2)} USD`);
  const atRisk = [...scores.values()].filter((r) => r.p_alive < 0.3).length;
  assert.equal(await metric("at risk"), fixed(atRisk, 0));
  const charts = await page.$$eval("figure.chart svg", (svgs) =>
    svgs.map((s) => s.querySelectorAll("path, rect, polyline, circle").length));
  assert.equal(charts.length, 3, "two trend lines and the cohort heatmap");
  assert.ok(charts.every((n) => n > 0), `every chart drawn: ${charts}`);
  await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });

  // Customers: typing narrows the list in place (htmx), without a page load.
  await page.click("nav >> text=Customers");
  await page.waitForURL(`${base}/customers`);
  const ids = () => page.$$eval("table.customers tbody tr td:first-child", (tds) => tds.map((t) => t.textContent));
  assert.equal((await ids()).length, 50);
  await page.evaluate(() => (window.__samePage = true));
  await page.fill("input[name=q]", "1981");
  await page.waitForFunction(() => document.querySelectorAll("table.customers tbody tr").length === 1);
  assert.deepEqual(await ids(), ["1981"]);
  assert.ok(await page.evaluate(() => window.__samePage), "the search did not reload the page");
  await page.screenshot({ path: join(shots, "customers.png"), fullPage: true });

  // A filter on the predictions: the same customers `clv score` puts below the threshold.
  await page.fill("input[name=q]", "");
  await page.fill("input[name=where]", "p_alive < 0.05 and predicted_clv > 1");
  const wanted = [...scores.values()]
    .filter((r) => r.p_alive < 0.05 && r.predicted_clv > 1)
    .map((r) => r.customer_id)
    .sort()
    .slice(0, 50);
  await page.waitForFunction((first) => {
    const td = document.querySelector("table.customers tbody tr td");
    return td && td.textContent === first;
  }, wanted[0]);
  assert.deepEqual(await ids(), wanted);

  // The profile: predictions with intervals, as `clv score` has them.
  await page.fill("input[name=where]", "");
  await page.fill("input[name=q]", "1981");
  await page.waitForFunction(() => document.querySelectorAll("table.customers tbody tr").length === 1);
  await page.click("table.customers >> text=1981");
  await page.waitForURL(`${base}/customers/1981`);
  const want = scores.get("1981");
  const row = async (label) =>
    page.$$eval(`#predictions tr:has(td:text-is("${label}")) td`, (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(await row("P(alive)"), [
    "P(alive)", fixed(want.p_alive, 3), `${fixed(want.p_alive_lower, 3)} – ${fixed(want.p_alive_upper, 3)}`,
  ]);
  assert.deepEqual((await row("predicted CLV, next year")).slice(1), [
    fixed(want.predicted_clv, 2), `${fixed(want.predicted_clv_lower, 2)} – ${fixed(want.predicted_clv_upper, 2)}`,
  ]);
  assert.equal((await row("expected next order"))[1], want.expected_next_order_date);
  // Segment and tier are shown (their values are checked against `clv segments` in tests/service.rs).
  for (const label of ["segment", "value tier"]) {
    assert.ok((await metric(label)).trim().length > 0, `the profile shows the ${label}`);
  }
  const orders = lines.filter((f) => f[1] === "1981").length;
  assert.equal(await page.$$eval("#orders tbody tr", (r) => r.length), orders);
  await page.screenshot({ path: join(shots, "profile.png"), fullPage: true });

  // A segment: the preview counts as it is typed; saved, it lists its members.
  await page.click("nav >> text=Segments");
  await page.waitForURL(`${base}/segments`);
  const members = [...scores.values()].filter((r) => r.p_alive < 0.3 && r.predicted_clv > 5).length;
  await page.fill("input[name=name]", "Worth winning back");
  await page.fill("input[name=conditions]", "p_alive < 0.3 and predicted_clv > 5");
  await page.waitForFunction(
    (text) => document.querySelector("#preview").textContent === text,
    `${fixed(members, 0)} customers match.`,
  );
  await page.fill("input[name=conditions]", "p_alive < 0.3 and colour = 'red'");
  await page.waitForFunction(() => document.querySelector("#preview").textContent.includes("is not a prediction"));
  await page.fill("input[name=conditions]", "p_alive < 0.3 and predicted_clv > 5");
  await page.click("button:text('Save segment')");
  await page.waitForURL(`${base}/segments`);
  assert.deepEqual(
    await page.$$eval("#saved tbody tr td", (tds) => tds.map((t) => t.textContent)),
    ["Worth winning back", "p_alive < 0.3 and predicted_clv > 5", fixed(members, 0)],
  );
  const rfm = await page.$$eval("#rfm tbody tr", (rows) =>
    rows.map((r) => Number(r.children[1].textContent.replace(/,/g, ""))));
  assert.equal(rfm.reduce((a, b) => a + b, 0), fileCustomers, "every customer in one RFM segment");
  await page.screenshot({ path: join(shots, "segments.png"), fullPage: true });
  await page.click("#saved >> text=Worth winning back");
  await page.waitForURL(/\/customers\?where=/);
  const listed = await ids();
  assert.equal(listed.length, Math.min(50, members));
  assert.ok(listed.every((id) => scores.get(id).p_alive < 0.3 && scores.get(id).predicted_clv > 5));

  // A form posted without the page's CSRF token (as another site would) is refused.
  const forged = await page.evaluate(async () => {
    const r = await fetch("/segments", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "name=forged&conditions=p_alive%20%3C%201",
    });
    return r.status;
  });
  assert.equal(forged, 403);
  expectRefusal(403);

  // A phone: the pages fit the screen's width.
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
    storageState: await context.storageState(),
  });
  const small = await phone.newPage();
  small.on("pageerror", (e) => problems.push(`page error (phone): ${e.message}`));
  for (const path of ["/", "/customers", "/customers/1981", "/segments"]) {
    await small.goto(`${base}${path}`);
    const [width, inner] = await small.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(width <= inner + 1, `${path} is ${width}px wide on a ${inner}px screen`);
  }
  await small.goto(`${base}/`);
  await small.screenshot({ path: join(shots, "overview-phone.png"), fullPage: true });

  // Logging out ends the session: the old cookie no longer opens a page.
  await page.goto(`${base}/`);
  await page.click("button:text('Log out')");
  await page.waitForURL(`${base}/login`);
  const stale = await fetch(`${base}/customers`, {
    headers: { cookie: `clv_session=${session.value}` }, redirect: "manual",
  });
  assert.equal(stale.status, 303);
  assert.deepEqual(problems, []);
  console.log(`dashboard: every check passed; screenshots in ${shots}`);
} catch (e) {
  failed = true;
  console.error(e);
  if (problems.length) console.error(problems.join("\n"));
} finally {
  await browser.close();
  server.kill("SIGTERM");
}
process.exit(failed ? 1 : 0);
