// The playground's one script: runs each column's model through the console (which calls the
// gateway) and reads the answer as it streams: NDJSON lines {delta} ... {done, latency_ms, ...}.
"use strict";
(function () {
  const form = document.getElementById("playground");
  const button = document.getElementById("run");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function fmt(v, digits) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits); }

  async function runColumn(i, body) {
    const answer = document.getElementById("answer" + i);
    const facts = document.getElementById("facts" + i);
    answer.textContent = "";
    facts.textContent = "running…";
    const resp = await fetch("/playground/run", {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    if (!resp.ok) { facts.textContent = "error: HTTP " + resp.status; return; }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, {stream: true});
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line);
        if (msg.delta) answer.textContent += msg.delta;
        if (msg.error) { facts.textContent = "error: " + msg.error; facts.dataset.state = "error"; }
        if (msg.done) {
          facts.dataset.state = "done";
          facts.textContent = "model " + (msg.model || "–") + " · latency " + fmt(msg.latency_ms, 0) + " ms · TTFT " +
            fmt(msg.ttft_ms, 0) + " ms · tokens " + msg.input_tokens + " in / " + msg.output_tokens + " out · cost $" +
            fmt(msg.cost_usd, 9) + " · cache " + (msg.cache || "–");
        }
      }
    }
  }

  button.addEventListener("click", function () {
    const data = new FormData(form);
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const model = (data.get("model" + i) || "").trim();
      if (!model) continue;
      runs.push(runColumn(i, {
        model: model, key: data.get("key"), system: data.get("system"), message: data.get("message"),
        max_tokens: Number(data.get("max_tokens")), temperature: Number(data.get("temperature")),
      }));
    }
    Promise.all(runs);
  });
})();
