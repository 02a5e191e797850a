// Drives the fraud detector's live dashboard in headless Chromium while the demo runs:
//   node scripts/browser-test/dashboard.mjs <dashboard URL> <screenshot path>
// Checks that alerts appear without reloading the page (Server-Sent Events), that the statistics
// tiles update, and that a card lookup (an interactive query) shows the card's features; then saves
// a screenshot. Exits 1 naming the first check that failed.
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: dashboard.mjs <dashboard URL> <screenshot path>");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  let navigations = 0;
  page.on("framenavigated", (frame) => { if (frame === page.mainFrame()) navigations += 1; });

  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => document.getElementById("status").textContent === "live", null, { timeout: 15000 });
  console.log("dashboard: connected to /events");

  // Alerts arrive live: the count of rows grows while the page stays loaded.
  const rows = () => page.locator("#alerts tr.alert").count();
  await page.waitForFunction(() => document.querySelectorAll("#alerts tr.alert").length > 0, null, { timeout: 60000 });
  const first = await rows();
  await page.waitForFunction((n) => document.querySelectorAll("#alerts tr.alert").length > n, first, { timeout: 60000 });
  const later = await rows();
  console.log(`dashboard: alerts grew from ${first} to ${later} rows without a reload`);
  if (navigations !== 1) throw new Error(`the page navigated ${navigations} times`);

  // Statistics: throughput shown and the sparkline fed.
  await page.waitForFunction(() => Number(document.getElementById("processed-total").textContent) > 0, null, { timeout: 15000 });
  await page.waitForFunction(() => Number(document.getElementById("spark-rate").dataset.points) >= 8, null, { timeout: 15000 });
  console.log(`dashboard: ${await page.textContent("#processed-total")} transactions processed, ${await page.textContent("#processed-rate")}/s, sparkline drawn`);

  // Card lookup: click the card of the newest alert; its features come from the state stores.
  const card = await page.locator("#alerts tr.alert td.card-link").first().textContent();
  await page.locator("#alerts tr.alert td.card-link").first().click();
  await page.waitForSelector("#card-features", { timeout: 15000 });
  const details = await page.textContent("#card-features");
  for (const expected of [card, "transactions", "amount_zscore", "24 h: count"]) {
    if (!details.includes(expected)) throw new Error(`the lookup of ${card} does not show ${expected}: ${details}`);
  }
  console.log(`dashboard: card lookup of ${card} shows its features`);

  if (errors.length) throw new Error(`script errors on the page: ${errors.join("; ")}`);
  await page.screenshot({ path: screenshot });
  console.log(`dashboard: screenshot saved to ${screenshot}`);
} catch (e) {
  console.error(`dashboard test failed: ${e.message}`);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
