// Opens weft's GraphiQL in headless Chromium with every request outside
// weft refused (as on a machine without network), runs a query, then a
// subscription that receives an event published by a mutation. Prints one
// JSON line per step; screenshots go to the directory given.
//
// usage: node graphiql.mjs <weft base URL> <screenshot directory>
import { chromium } from "playwright-core";

const [base, shots] = process.argv.slice(2);
const print = (step) => console.log(JSON.stringify(step));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const refused = [];
const context = await browser.newContext();
await context.route("**/*", (route) => {
  const url = route.request().url();
  if (url.startsWith(base)) return route.continue();
  refused.push(url);
  return route.abort();
});
let page;

// A fresh page per operation: GraphiQL reads the fragment when it loads.
async function run(query) {
  page = await context.newPage();
  await page.goto(`${base}/graphql#query=${encodeURIComponent(query)}`);
  await page.waitForSelector(".graphiql-execute-button", { timeout: 20000 });
  await page.click(".graphiql-execute-button");
}

async function resultContaining(text, timeout = 20000) {
  await page.waitForFunction(
    (text) => document.querySelector(".result-window")?.textContent.includes(text),
    text,
    { timeout },
  );
  return page.textContent(".result-window");
}

try {
  await run('{ product(sku: "SKU-0001") { sku name } }');
  const answer = await resultContaining("SKU-0001");
  await page.screenshot({ path: `${shots}/graphiql-query.png` });
  print({ step: "query", result: answer });

  await run("subscription { announcements { message } }");
  // The subscription starts once the socket is open: announce until the
  // event shows.
  let shown = null;
  for (let attempt = 0; attempt < 40 && shown === null; attempt++) {
    await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: 'mutation { announce(message: "hello from weft") { message } }' }),
    });
    shown = await resultContaining("hello from weft", 500).catch(() => null);
  }
  await page.screenshot({ path: `${shots}/graphiql-subscription.png` });
  print({ step: "subscription", result: shown ?? "" });
} catch (error) {
  print({ step: "error", result: String(error) });
} finally {
  print({ step: "refused", result: refused });
  await browser.close();
}
