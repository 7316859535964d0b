// The web pages of a running `alpha serve` in headless Chromium (driven by playwright-core): the chat
// page streams a real reply, shows model text as text (a fulfilled fake stream carries markup that
// must not run), shows API errors and regenerates; the runs table lists the run; the run's page
// draws one loss-chart point per metrics row. Screenshots go to ARTIFACTS.
// Usage: node test_web.mjs PLAYWRIGHT_CORE_DIR BASE_URL RUN ARTIFACTS
import fs from "node:fs";
import path from "node:path";

const [playwrightDir, base, run, artifacts] = process.argv.slice(2);
const {chromium} = await import(path.join(playwrightDir, "index.mjs"));
fs.mkdirSync(artifacts, {recursive: true});

let failures = 0, passes = 0;
function check(name, ok, detail = "") {
  if (ok) passes++, console.log(`ok: ${name}`);
  else failures++, console.log(`FAIL: ${name}${detail ? ": " + detail : ""}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
const page = await browser.newPage({viewport: {width: 1100, height: 800}});
const pageErrors = [];
page.on("pageerror", (error) => pageErrors.push(error.message));
page.setDefaultTimeout(30000);
const shot = (name) => page.screenshot({path: path.join(artifacts, name), fullPage: true});

// The last assistant reply, once its stream has ended.
async function finishedReply() {
  await page.waitForFunction(() => !document.querySelector(".message.streaming"));
  return page.evaluate(() => [...document.querySelectorAll(".message.assistant .text")].pop()?.textContent ?? null);
}

try {
  // --- chat: the model's name, a streamed reply from the real model ---
  const models = await (await fetch(`${base}/v1/models`)).json();
  const modelId = models.data[0].id;
  await page.goto(`${base}/`);
  await page.waitForFunction((id) => document.getElementById("model").textContent.includes(id), modelId);
  check("the chat page shows the model's name from /v1/models", true);

  await page.click("#toggle-settings");
  await page.fill("#max_tokens", "24");
  await page.dispatchEvent("#max_tokens", "change");
  await page.evaluate(() => {  // every text the reply bubble shows, as it shows it
    window.__lengths = [];
    new MutationObserver(() => {
      const text = [...document.querySelectorAll(".message.assistant .text")].pop();
      if (text) window.__lengths.push(text.textContent.length);
    }).observe(document.getElementById("messages"), {subtree: true, childList: true, characterData: true});
  });
  const streamed = page.waitForResponse((r) => r.url().endsWith("/v1/chat/completions"));
  await page.fill("#input", "the quick brown fox");
  await page.press("#input", "Enter");
  const body = (await (await streamed).body()).toString("utf8");  // the SSE bytes are UTF-8
  const reply = await finishedReply();
  const deltas = body.split("\n").filter((l) => l.startsWith("data:") && !l.includes("[DONE]"))
    .map((l) => JSON.parse(l.slice(5)).choices?.[0]?.delta?.content ?? "");
  check("a reply streams in as SSE chunks, ending with [DONE]",
    deltas.filter(Boolean).length >= 2 && body.trimEnd().endsWith("data: [DONE]"), body.slice(0, 300));
  check("the page shows the streamed text, non-empty", reply && reply === deltas.join(""),
    `shown ${JSON.stringify(reply)}, streamed ${JSON.stringify(deltas.join(""))}`);
  const lengths = await page.evaluate(() => window.__lengths.filter((n) => n > 0));
  check("the reply grows as chunks arrive", new Set(lengths).size >= 2, JSON.stringify(lengths));
  await shot("chat.png");

  await page.click("#regenerate");
  const again = await finishedReply();
  const bubbles = await page.locator(".message.assistant").count();
  check("regenerate replaces the last reply", bubbles === 1 && again !== null, `${bubbles} replies`);

  // --- model text is text: a fake stream carrying markup, fulfilled in place of the server's ---
  const hostile = ["<img src=x onerror=window.__xss=1>", " <script>window.__xss=2</script>", " <b>bold</b>"];
  let sent = null;
  await page.route("**/v1/chat/completions", (route) => (sent = route.request()) && route.fulfill({
    status: 200,
    headers: {"content-type": "text/event-stream"},
    body: [{role: "assistant"}, ...hostile.map((content) => ({content}))]
      .map((delta) => `data: ${JSON.stringify({object: "chat.completion.chunk", choices: [{index: 0, delta}]})}\n\n`)
      .join("") + "data: [DONE]\n\n",
  }));
  await page.click("#new");
  await page.fill("#api_key", "sk-test");
  await page.fill("#input", "say something hostile");
  await page.press("#input", "Enter");
  const shown = await finishedReply();
  await page.waitForTimeout(300);  // an onerror would have fired by now
  check("markup in a reply is shown as text", shown === hostile.join(""), JSON.stringify(shown));
  check("markup in a reply never runs or renders",
    await page.evaluate(() => window.__xss === undefined && !document.querySelector("#messages img, #messages script, #messages b")));
  await shot("chat-markup.png");
  const request = sent.postDataJSON();
  check("the request carries the API key, the settings and only the new chat's turn",
    sent.headers()["authorization"] === "Bearer sk-test" && request.stream === true && request.max_tokens === 24 &&
    typeof request.top_k === "number" && request.messages.length === 1, JSON.stringify(request));
  await page.fill("#api_key", "");

  // --- an OpenAI-shaped error is shown ---
  await page.unroute("**/v1/chat/completions");
  await page.route("**/v1/chat/completions", (route) => route.fulfill({
    status: 401, contentType: "application/json",
    body: JSON.stringify({error: {message: "invalid API key", type: "invalid_request_error"}}),
  }));
  await page.fill("#input", "hello");
  await page.press("#input", "Enter");
  await page.waitForFunction(() => document.getElementById("error").textContent.includes("invalid API key"));
  check("an error body's message is shown", true);
  await page.unroute("**/v1/chat/completions");

  // --- the runs table ---
  await page.goto(`${base}/runs`);
  const link = page.locator(`#runs a[href="/runs/${encodeURIComponent(run)}"]`);
  await link.waitFor();
  const state = await link.locator("xpath=../..").locator(".state").textContent();
  check("the runs table lists the run with its state", ["training", "finished", "stopped"].includes(state), state);
  await shot("runs.png");

  // --- the run's page: one loss point per metrics row ---
  const details = await (await fetch(`${base}/api/runs/${encodeURIComponent(run)}`)).json();
  const rows = details.metrics.rows;
  await link.click();
  await page.waitForSelector("#loss-chart polyline.series-0");
  const points = await page.evaluate(() => ({
    loss: document.querySelector("#loss-chart polyline.series-0").points.numberOfItems,
    val: document.querySelector("#loss-chart polyline.series-1").points.numberOfItems,
    lr: document.querySelector("#lr-chart polyline.series-0").points.numberOfItems,
    speed: document.querySelector("#speed-chart polyline.series-0").points.numberOfItems,
  }));
  const validated = rows.filter((r) => typeof r.val_loss === "number").length;
  check("the loss chart has a point per metrics row", points.loss === rows.length && rows.length > 1,
    `${points.loss} points, ${rows.length} rows`);
  check("validation loss, learning rate and tokens/s are drawn",
    points.val === validated && validated > 0 && points.lr === rows.length && points.speed === rows.length,
    JSON.stringify(points));
  const samples = await page.locator("#samples pre").count();
  check("the latest samples are shown", samples === details.samples.length && samples > 0, `${samples} shown`);
  await shot("run.png");

  check("no script errors on any page", pageErrors.length === 0, pageErrors.join("; "));
} catch (error) {
  check("the pages work", false, error.stack);
  await shot("failure.png").catch(() => {});
}
await browser.close();
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
