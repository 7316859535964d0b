// The official OpenAI client (npm `openai` 6.x) against `alpha serve`: chat and text completions,
// plain and streamed, must give `alpha sample`'s greedy text for the same prompt, its token counts
// and finish_reason; a stop string cuts the text before it; 4 requests at once each give their
// one-at-a-time answer, in fewer decode steps than one after another (they were batched).
// Usage: node openai_client.mjs BASE_URL MODEL CASES.json   (CASES: written by test_serve.sh)
import OpenAI from "openai";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const [baseURL, model, casesFile] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesFile, "utf8"));
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
let passes = 0, failures = 0;
async function check(name, fn) {
  try {
    await fn();
    passes++;
    console.log(`ok: ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL: ${name}: ${e.message}`);
  }
}

function request(c, extra = {}) {
  const common = { model, max_tokens: c.max_tokens, temperature: 0, ...extra };
  return c.kind === "chat"
    ? { ...common, messages: [{ role: "user", content: c.input }] }
    : { ...common, prompt: c.input };
}
const endpoint = (c) => (c.kind === "chat" ? client.chat.completions : client.completions);
const textOf = (c, answer) => (c.kind === "chat" ? answer.choices[0].message.content : answer.choices[0].text);

async function plain(c, extra) {
  const answer = await endpoint(c).create(request(c, extra));
  return { text: textOf(c, answer), finish: answer.choices[0].finish_reason, usage: answer.usage, answer };
}

async function streamed(c, extra) {
  const stream = await endpoint(c).create(request(c, { ...extra, stream: true, stream_options: { include_usage: true } }));
  let text = "", finish = null, usage = null, chunks = 0, role = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (c.kind === "chat") {
        if (choice.delta.role) role = choice.delta.role;
        text += choice.delta.content ?? "";
      } else {
        text += choice.text;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { text, finish, usage, chunks, role };
}

const health = async () => (await fetch(baseURL.replace(/\/v1$/, "/health"))).json();

for (const c of cases) {
  const label = `${c.kind} "${c.input}"`;
  await check(`${label}: equals alpha sample's greedy text, usage and finish_reason`, async () => {
    const got = await plain(c);
    assert.equal(got.text, c.text);
    assert.equal(got.finish, c.finish);
    assert.deepEqual(got.usage, {
      prompt_tokens: c.prompt_tokens, completion_tokens: c.completion_tokens,
      total_tokens: c.prompt_tokens + c.completion_tokens,
    });
    assert.equal(got.answer.model, model);
    assert.equal(got.answer.object, c.kind === "chat" ? "chat.completion" : "text_completion");
  });
  await check(`${label}: streamed, the same text in several chunks, then usage`, async () => {
    const got = await streamed(c);
    assert.equal(got.text, c.text);
    assert.equal(got.finish, c.finish);
    assert.ok(got.chunks > 3, `${got.chunks} chunks`);
    if (c.kind === "chat") assert.equal(got.role, "assistant");
    assert.equal(got.usage?.completion_tokens, c.completion_tokens);
    assert.equal(got.usage?.prompt_tokens, c.prompt_tokens);
  });
  // a stop string from the middle of the text: the reply ends before it, finish_reason stop
  const stop = c.text.slice(Math.floor(c.text.length / 2), Math.floor(c.text.length / 2) + 3);
  const want = c.text.slice(0, c.text.indexOf(stop));
  await check(`${label}: stop ${JSON.stringify(stop)} ends the reply before it (plain and streamed)`, async () => {
    const got = await plain(c, { stop: [stop, "never appears"] });
    assert.equal(got.text, want);
    assert.equal(got.finish, "stop");
    const s = await streamed(c, { stop });
    assert.equal(s.text, want);
    assert.equal(s.finish, "stop");
  });
}

await check("temperature 0.9 with a seed: the same draw twice", async () => {
  const c = { ...cases[0] };
  const a = await plain(c, { temperature: 0.9, seed: 7 });
  const b = await plain(c, { temperature: 0.9, seed: 7 });
  assert.equal(a.text, b.text);
});

await check("GET /v1/models lists the run with its step", async () => {
  const list = await client.models.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].id, model);
  assert.ok(list.data[0].step > 0);
});

await check("4 requests at once: each answer equals its one-at-a-time answer, decoded in shared steps", async () => {
  const batch = cases.map((c) => ({ ...c, max_tokens: c.long_max_tokens }));
  while (batch.length < 4) batch.push({ ...batch[batch.length % 2], input: batch[batch.length % 2].input + " again" });
  const alone = [];
  for (const c of batch) alone.push(await plain(c));
  const before = (await health()).decode_steps;
  const together = await Promise.all(batch.map((c, i) => (i % 2 ? streamed(c) : plain(c))));
  const steps = (await health()).decode_steps - before;
  const tokens = together.reduce((n, t) => n + t.usage.completion_tokens, 0);
  together.forEach((t, i) => assert.equal(t.text, alone[i].text, `request ${i}`));
  assert.ok(steps < tokens * 0.6, `${steps} decode steps for ${tokens} tokens: not batched`);
  console.log(`   (${tokens} tokens in ${steps} decode steps)`);
});

console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
