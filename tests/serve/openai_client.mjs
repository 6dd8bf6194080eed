// The official OpenAI Node.js client (openai v4) against tril serve: a
// completion, the same one streamed, and the client's own errors for a bad
// request and a wrong key.
// usage: node openai_client.mjs BASE_URL API_KEY EXPECTED_TEXT_FILE
// (EXPECTED_TEXT_FILE: `tril generate --prompt "ROMEO:" --tokens 30 --temperature 0`)
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const [baseURL, apiKey, expectedFile] = process.argv.slice(2);
// tril generate ends its output with a newline of its own
const expected = readFileSync(expectedFile, "utf8").replace(/\n$/, "");
let failed = 0;
let passed = 0;
function check(cond, what) {
  if (cond) passed++;
  else {
    failed++;
    console.log(`FAIL: ${what}`);
  }
}

const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey, maxRetries: 0, timeout: 30000 });
const params = { model: "default", prompt: "ROMEO:", max_tokens: 30, temperature: 0 };

// the model list
const models = await client.models.list();
check(models.data.length === 1 && models.data[0].id === "default", `models.list: ${JSON.stringify(models.data)}`);

// non-streaming
const c = await client.completions.create(params);
check(c.object === "text_completion", `object: ${c.object}`);
check(typeof c.id === "string" && c.id.startsWith("cmpl-"), `id: ${c.id}`);
check(c.model === "default", `model: ${c.model}`);
check(c.choices.length === 1 && c.choices[0].index === 0, "one choice");
check(c.choices[0].text === expected, `text: ${JSON.stringify(c.choices[0].text)} vs ${JSON.stringify(expected)}`);
check(c.choices[0].finish_reason === "length", `finish_reason: ${c.choices[0].finish_reason}`);
check(c.usage.prompt_tokens === 6 && c.usage.completion_tokens === 30 && c.usage.total_tokens === 36,
  `usage: ${JSON.stringify(c.usage)}`);

// streaming
const stream = await client.completions.create({ ...params, stream: true });
let text = "";
let chunks = 0;
let finish = null;
for await (const chunk of stream) {
  chunks++;
  check(chunk.object === "text_completion" && chunk.id.startsWith("cmpl-"), "chunk head");
  text += chunk.choices[0].text;
  if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
}
check(text === expected, `streamed text: ${JSON.stringify(text)}`);
check(finish === "length", `streamed finish_reason: ${finish}`);

// each event holds the text made since the one before, so a busy machine
// (the bundled model makes a token in well under a millisecond) merges
// tokens, and 30 of them can come as one; a long stream must still come in
// pieces, not as one reply, and say what the plain request says
const long = { ...params, max_tokens: 240 };
const plainLong = (await client.completions.create(long)).choices[0].text;
let longText = "";
let longChunks = 0;
for await (const chunk of await client.completions.create({ ...long, stream: true })) {
  longChunks++;
  longText += chunk.choices[0].text;
}
check(longText === plainLong, `240-token stream: ${JSON.stringify(longText)} vs ${JSON.stringify(plainLong)}`);
check(longChunks >= 2, `240 tokens streamed in ${longChunks} chunks`);

// streaming with usage at the end
const s2 = await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
let usage = null;
for await (const chunk of s2) if (chunk.usage) usage = chunk.usage;
check(usage && usage.completion_tokens === 30, `stream usage: ${JSON.stringify(usage)}`);

// errors become the client's exceptions
try {
  await client.completions.create({ ...params, max_tokens: 0 });
  check(false, "max_tokens 0 accepted");
} catch (e) {
  check(e instanceof OpenAI.BadRequestError && e.status === 400, `max_tokens 0: ${e}`);
  check(e.error && e.error.param === "max_tokens", `max_tokens 0: param ${JSON.stringify(e.error)}`);
}
const wrong = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: apiKey + "x", maxRetries: 0 });
try {
  await wrong.completions.create(params);
  check(false, "a wrong key accepted");
} catch (e) {
  check(e instanceof OpenAI.AuthenticationError && e.status === 401, `wrong key: ${e}`);
}

console.log(`openai client: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
