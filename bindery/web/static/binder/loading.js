// Loading page: follow /build/... (BinderHub's event stream) and land in the server.
(function () {
  const root = document.getElementById("launcher");
  const order = ["waiting", "fetching", "building", "built", "launching", "ready"];
  const widths = {waiting: 5, fetching: 15, building: 40, pushing: 70, built: 75, launching: 85, ready: 100};
  const status = document.getElementById("status");
  const logEl = document.getElementById("log");
  const logBox = document.getElementById("log-box");
  const bar = document.getElementById("progress-bar");
  const warnings = document.getElementById("warnings");
  const WARNING = "Bindery: WARNING: ";
  // The builder's summary line "Bindery: Reproducibility grade: B (reasons)".
  const GRADE = /^Bindery: Reproducibility grade: ([A-D]) \((.*)\)$/;
  const grade = document.getElementById("grade");
  let finished = false;

  function setPhase(phase) {
    const index = order.indexOf(phase);
    document.querySelectorAll("#phases li").forEach((li) => {
      const i = order.indexOf(li.dataset.phase);
      li.classList.toggle("done", index >= 0 && i < index);
      li.classList.toggle("current", i === index);
    });
    if (widths[phase] !== undefined) {
      bar.style.width = widths[phase] + "%";
      bar.setAttribute("aria-valuenow", widths[phase]);
    }
    root.dataset.phase = phase;
  }
  function fail(message) {
    finished = true;
    root.dataset.phase = "failed";
    status.textContent = message;
    status.classList.add("error");
    bar.classList.add("failed");
    const current = document.querySelector("#phases li.current");
    if (current) current.classList.add("failed");
    logBox.open = true;
  }
  function showGrade(line) {
    const found = GRADE.exec(line);
    if (!found) return;
    document.getElementById("grade-letter").textContent = found[1];
    document.getElementById("grade-reasons").textContent = "(" + found[2] + ")";
    grade.dataset.grade = found[1];
    grade.hidden = false;
  }
  const source = new EventSource(root.dataset.buildUrl);
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.message) {
      // The builder's warnings (e.g. a substituted Python) are shown above the log too.
      event.message.split("\n").filter((line) => line.startsWith(WARNING)).forEach((line) => {
        const item = document.createElement("li");
        item.textContent = line.slice(WARNING.length);
        warnings.appendChild(item);
        warnings.hidden = false;
      });
      event.message.split("\n").forEach(showGrade);
      logEl.textContent += event.message;
      logEl.scrollTop = logEl.scrollHeight;
    }
    // A cached image carries its grade in the "built" event instead of a build log.
    if (event.grade) showGrade("Bindery: " + event.grade);
    if (event.phase === "failed") { source.close(); fail(event.message || "The launch failed."); return; }
    setPhase(event.phase);
    if (event.phase !== "building" && event.message) status.textContent = event.message;
    if (event.phase === "building") status.textContent = "Building the environment…";
    if (event.phase === "ready") {
      finished = true;
      source.close();
      status.textContent = "Ready! Opening JupyterLab…";
      const target = event.url.replace(/\/?$/, "/") + root.dataset.target;
      window.location.href = target + (target.includes("?") ? "&" : "?") +
        "token=" + encodeURIComponent(event.token);
    }
  };
  source.onerror = () => {
    if (!finished) { source.close(); fail("Lost the connection to the launch service. Reload the page to try again."); }
  };
})();
