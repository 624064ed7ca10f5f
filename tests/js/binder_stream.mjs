// Follow one BinderHub /build stream with the official @jupyterhub/binderhub-client,
// printing every event as one JSON line. After `ready` (or `failed`) it waits
// CLOSE_DELAY_MS before closing, like a page that is slow to navigate away.
// Usage: node binder_stream.mjs <build endpoint URL> <provider spec> <close delay ms> [build_only]
// The client is written for browsers: it reads `window.fetch` and listens to the
// document's visibility. Node 20 has fetch and timers on globalThis, so `window` is the
// global object and `document` a visible page without cookies (an API user: no XSRF header).
globalThis.window = globalThis;
globalThis.document = Object.assign(new EventTarget(), { hidden: false, cookie: "" });
const { BinderRepository } = await import("@jupyterhub/binderhub-client/client.js");

const [endpoint, spec, delay, buildOnly] = process.argv.slice(2);
const repo = new BinderRepository(spec, new URL(endpoint), { buildOnly: buildOnly === "build_only" });
const stop = setTimeout(() => { console.log(JSON.stringify({ phase: "test-timeout" })); process.exit(2); }, 600000);
let closing = null;
for await (const event of repo.fetch()) {
  console.log(JSON.stringify(event));
  if ((event.phase === "ready" || event.phase === "failed") && closing === null) {
    closing = setTimeout(() => repo.close(), Number(delay));
  }
}
clearTimeout(stop);
clearTimeout(closing);
