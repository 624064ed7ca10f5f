// Launch form: ask the service what the pasted text means, show the link and badges.
(function () {
  const form = document.getElementById("launch-form");
  const provider = document.getElementById("provider");
  const repo = document.getElementById("repository");
  const ref = document.getElementById("ref");
  const path = document.getElementById("path");
  const pathtype = document.getElementById("pathtype");
  const share = document.getElementById("share");
  const err = document.getElementById("understand-error");
  let timer = null;

  function params() {
    return new URLSearchParams({provider: provider.value, repo: repo.value, ref: ref.value,
                                path: path.value, pathtype: pathtype.value});
  }
  async function update() {
    if (!repo.value.trim()) { share.hidden = true; return; }
    const response = await fetch("/api/understand?" + params());
    const data = await response.json();
    share.hidden = false;
    if (!response.ok) { err.textContent = data.error; err.hidden = false; return; }
    err.hidden = true;
    if (data.provider !== provider.value) provider.value = data.provider;
    document.getElementById("launch-url").value = data.launch_url;
    document.getElementById("badge-md").value = data.markdown;
    document.getElementById("badge-rst").value = data.rst;
    document.getElementById("badge-html").value = data.html;
  }
  function later() { clearTimeout(timer); timer = setTimeout(update, 200); }
  function placeholder() {
    const option = provider.selectedOptions[0];
    repo.placeholder = option.dataset.placeholder;
    ref.disabled = option.dataset.hasRef !== "true";
  }
  [repo, ref, path].forEach((el) => el.addEventListener("input", later));
  [provider, pathtype].forEach((el) => el.addEventListener("change", () => { placeholder(); later(); }));
  placeholder();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/api/understand?" + params());
    const data = await response.json();
    if (!response.ok) { share.hidden = false; err.textContent = data.error; err.hidden = false; return; }
    window.location.href = data.launch_path;
  });
})();
