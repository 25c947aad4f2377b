// Drives a running Tollgate with the AWS SDK for JavaScript v3, the way a
// Node.js application would. Run by TestJavaScriptClients
// (cmd/tollgate/jsclient_test.go), which installs the pinned dependencies,
// starts the server, creates the application profile and checks the output.
//
// Environment: ENDPOINT (http://host:port), REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, PROFILE_ARN (an application inference profile).
//
// Prints one JSON object describing what it observed to stdout and exits 1
// when anything was unexpected (the reasons are in "problems"). A crash
// exits non-zero without the JSON. Diagnostics go to stderr.

import http2 from "node:http2";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";
import {
  BedrockClient,
  GetInferenceProfileCommand,
  ListInferenceProfilesCommand,
} from "@aws-sdk/client-bedrock";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
};
const endpoint = env("ENDPOINT");
const region = env("REGION");
const profileArn = env("PROFILE_ARN");
const credentials = {
  accessKeyId: env("AWS_ACCESS_KEY_ID"),
  secretAccessKey: env("AWS_SECRET_ACCESS_KEY"),
};

const out = { problems: [] };
const problem = (msg) => {
  out.problems.push(msg);
  console.error("problem:", msg);
};

// Default request handlers on purpose: NodeHttp2Handler for the runtime
// client (h2c with prior knowledge against http://), NodeHttpHandler for
// the control plane.
const common = { region, endpoint, credentials, maxAttempts: 1 };
const bedrock = new BedrockClient(common);
const runtime = new BedrockRuntimeClient(common);
out.controlPlaneHandler = bedrock.config.requestHandler?.constructor?.name ?? "";
out.runtimeHandler = runtime.config.requestHandler?.constructor?.name ?? "";

const prompt = "Summarise claim 42 for the JavaScript client";
const messages = [{ role: "user", content: [{ text: prompt }] }];
const anthropicBody = JSON.stringify({
  anthropic_version: "bedrock-2023-05-31",
  max_tokens: 200,
  messages: [{ role: "user", content: prompt }],
});
const utf8 = new TextDecoder();

// step runs one check; an exception is recorded as a problem and the
// remaining steps still run.
async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    problem(`${name}: ${err?.name ?? "Error"}: ${err?.message ?? err}`);
    if (err?.stack) console.error(err.stack);
  }
}

// expectError runs fn, which must throw, and records the error's name and
// HTTP status.
async function expectError(name, fn) {
  try {
    await fn();
  } catch (err) {
    return {
      name: err?.name ?? "",
      httpStatusCode: err?.$metadata?.httpStatusCode ?? 0,
      fault: err?.$fault ?? "",
      message: err?.message ?? "",
    };
  }
  problem(`${name}: no error`);
  return { name: "", httpStatusCode: 0, fault: "", message: "" };
}

await step("ListInferenceProfiles", async () => {
  const found = [];
  let nextToken;
  do {
    const page = await bedrock.send(
      new ListInferenceProfilesCommand({ typeEquals: "APPLICATION", nextToken }),
    );
    for (const p of page.inferenceProfileSummaries ?? []) {
      if (p.type !== "APPLICATION") problem(`ListInferenceProfiles: ${p.inferenceProfileArn} has type ${p.type}`);
      found.push(p.inferenceProfileArn);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  out.listed = found;
  if (!found.includes(profileArn)) problem(`ListInferenceProfiles: ${profileArn} not in ${JSON.stringify(found)}`);
});

await step("GetInferenceProfile", async () => {
  const p = await bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: profileArn }));
  out.profile = {
    arn: p.inferenceProfileArn,
    name: p.inferenceProfileName,
    type: p.type,
    status: p.status,
    models: (p.models ?? []).map((m) => m.modelArn),
    createdAt: p.createdAt instanceof Date ? p.createdAt.toISOString() : String(p.createdAt),
  };
  if (p.inferenceProfileArn !== profileArn) problem(`GetInferenceProfile: ARN ${p.inferenceProfileArn}`);
  if (!(p.createdAt instanceof Date) || isNaN(p.createdAt)) problem(`GetInferenceProfile: createdAt ${p.createdAt}`);
});

await step("Converse", async () => {
  const r = await runtime.send(
    new ConverseCommand({ modelId: profileArn, messages, inferenceConfig: { maxTokens: 200 } }),
  );
  const text = (r.output?.message?.content ?? []).map((c) => c.text ?? "").join("");
  out.converse = { text, stopReason: r.stopReason, usage: r.usage, httpStatusCode: r.$metadata.httpStatusCode };
  if (!text) problem("Converse: empty text");
});

await step("ConverseStream", async () => {
  const r = await runtime.send(
    new ConverseStreamCommand({ modelId: profileArn, messages, inferenceConfig: { maxTokens: 200 } }),
  );
  const s = { text: "", events: [], stopReason: "", usage: null };
  for await (const ev of r.stream) {
    const kind = Object.keys(ev).find((k) => ev[k] !== undefined && k !== "$unknown") ?? "?";
    s.events.push(kind);
    if (ev.contentBlockDelta?.delta?.text !== undefined) s.text += ev.contentBlockDelta.delta.text;
    if (ev.messageStop) s.stopReason = ev.messageStop.stopReason;
    if (ev.metadata) s.usage = ev.metadata.usage ?? null;
  }
  out.converseStream = s;
  if (s.events[0] !== "messageStart" || s.events.at(-1) !== "metadata") {
    problem(`ConverseStream: event order ${s.events.join(",")}`);
  }
});

await step("InvokeModel", async () => {
  const r = await runtime.send(
    new InvokeModelCommand({
      modelId: profileArn,
      contentType: "application/json",
      accept: "application/json",
      body: anthropicBody,
    }),
  );
  const b = JSON.parse(utf8.decode(r.body));
  out.invokeModel = {
    text: (b.content ?? []).map((c) => c.text ?? "").join(""),
    stopReason: b.stop_reason,
    usage: b.usage,
    contentType: r.contentType,
  };
});

await step("InvokeModelWithResponseStream", async () => {
  const r = await runtime.send(
    new InvokeModelWithResponseStreamCommand({
      modelId: profileArn,
      contentType: "application/json",
      body: anthropicBody,
    }),
  );
  const s = { text: "", chunks: 0, types: [], metrics: null };
  for await (const ev of r.body) {
    if (!ev.chunk) {
      problem(`InvokeModelWithResponseStream: unexpected event ${JSON.stringify(Object.keys(ev))}`);
      continue;
    }
    s.chunks++;
    const m = JSON.parse(utf8.decode(ev.chunk.bytes));
    s.types.push(m.type);
    if (m.type === "content_block_delta" && typeof m.delta?.text === "string") s.text += m.delta.text;
    if (m["amazon-bedrock-invocationMetrics"]) s.metrics = m["amazon-bedrock-invocationMetrics"];
  }
  out.invokeModelStream = s;
});

// An application profile of this account that does not exist.
const unknownArn = profileArn.replace(/[^/]+$/, "zzzzzzzzzzzz");
out.errors = {};
out.errors.unknownProfile = await expectError("Converse with unknown profile", () =>
  runtime.send(new ConverseCommand({ modelId: unknownArn, messages })),
);
out.errors.otherRegion = await expectError("Converse with model of another region", () =>
  runtime.send(
    new ConverseCommand({
      modelId: "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
      messages,
    }),
  ),
);
for (const [name, e, want, status] of [
  ["unknownProfile", out.errors.unknownProfile, "ResourceNotFoundException", 404],
  ["otherRegion", out.errors.otherRegion, "ValidationException", 400],
]) {
  if (e.name !== want || e.httpStatusCode !== status) {
    problem(`${name}: got ${e.name} (${e.httpStatusCode}) "${e.message}", want ${want} (${status})`);
  }
}

// One raw request with prior-knowledge h2c, independent of the SDK.
await step("h2c GET /healthz", async () => {
  out.h2c = await new Promise((resolve, reject) => {
    const session = http2.connect(endpoint);
    session.on("error", reject);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error("timed out"));
    }, 10_000);
    const req = session.request({ ":method": "GET", ":path": "/healthz" });
    let status = 0;
    let body = "";
    req.setEncoding("utf8");
    req.on("response", (h) => {
      status = h[":status"];
    });
    req.on("data", (d) => {
      body += d;
    });
    req.on("error", reject);
    req.on("end", () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, alpnProtocol: session.alpnProtocol ?? "", body: body.slice(0, 200) });
    });
    req.end();
  });
});

bedrock.destroy();
runtime.destroy();

// Exit only once stdout has been flushed.
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(out.problems.length ? 1 : 0));
