"""R and Julia repositories built on the real engine.

CRAN, Posit Package Manager and Julia's download servers cannot be reached from here,
and a test may send traffic only to 127.0.0.1: the repository / download URLs point at
a closed port of the build container's own loopback (127.0.0.1:9), which refuses at once.
So the R build takes the Debian path (``mode = "auto"`` falling back, as it would on
this machine with the default URL), and the Julia build shows the error a person gets.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from bindery.builder import Builder
from bindery.builder.build import BuiltImage
from bindery.composition import Settings, make_builder
from bindery.errors import BuildError
from bindery.sources import resolve

from .conftest import git, run_in_image, write_files

pytestmark = [pytest.mark.engine]

CLOSED = "http://127.0.0.1:9"
#: Its own prefix: the builder fixture of other test sessions removes bindery-test-builder/*.
PREFIX = "bindery-test-modules"

R_REPO = {
    "runtime.txt": "r-4.2-2024-01-10\n",
    "install.R": """\
# Two packages Debian bookworm has as r-cran-*, and one nobody has.
install.packages(c("jsonlite", "R6"))
install.packages("notOnDebianPkg")
""",
    "app.R": 'library(shiny)\nshinyApp(fluidPage("hello from a Shiny app"), function(input, output) {})\n',
    "verify": """\
#!/bin/bash
set -euo pipefail
jupyter kernelspec list | grep -E '^\\s+ir\\s'
Rscript -e 'library(jsonlite); library(R6); cat(toJSON(list(ok = TRUE), auto_unbox = TRUE), "\\n")'
# A notebook's R code runs through the registered kernel, as JupyterLab would run it.
python - <<'EOF'
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name="ir", startup_timeout=60)
try:
    out = []
    kc.execute_interactive("library(R6); cat(class(R6Class('Thing'))[1])", timeout=60,
                           output_hook=lambda m: out.append(m["content"].get("text", "")))
    assert "R6ClassGenerator" in "".join(out), out
finally:
    kc.stop_channels(); km.shutdown_kernel(now=True)
EOF
jupyter server extension list 2>&1 | grep -E 'jupyter_server_proxy.*enabled'
# The launcher's Shiny entry: jupyter-server-proxy starts the app at the repository root.
jupyter server --ServerApp.token=t --port=8899 --no-browser >/tmp/server.log 2>&1 &
python - <<'EOF'
import time, urllib.request
for _ in range(120):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:8899/shiny/?token=t", timeout=60).read().decode()
        break
    except Exception:
        time.sleep(0.5)
else:
    raise SystemExit("the Shiny entry did not answer:\\n" + open("/tmp/server.log").read()[-3000:])
assert "hello from a Shiny app" in body, body[:1000]
EOF
echo VERIFIED
""",
}


@pytest.fixture(scope="module")
def module_builder() -> Iterator[Builder]:
    """A builder whose R repository and Julia download point at a closed local port."""
    settings = Settings()
    settings.builder.image_prefix = PREFIX
    settings.builder.modules = {
        "r": {"repository_url": CLOSED + "/cran/{date}", "probe_timeout": 3},
        "julia": {"download_url": CLOSED + "/julia-{version}-linux-{arch}.tar.gz", "timeout": 5},
    }
    builder = make_builder(settings)
    built: list[str] = []
    builder.built_names = built  # type: ignore[attr-defined]
    yield builder
    for name in built:
        builder.engine.remove_image(name)


@pytest.fixture(scope="module")
def r_image(module_builder: Builder, tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltImage, str]:
    """The one R image of the suite (R + IRkernel + Shiny from Debian: the slow part)."""
    work = tmp_path_factory.mktemp("r-debian")
    # A new file each run: the layers after the repository copy run again, as after a
    # push, so their log lines are there to check (the R layers before it stay cached).
    write_files(work, {**R_REPO, "README.md": f"run {secrets.token_hex(4)}\n"})
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "initial")
    events: list[dict] = []
    built = module_builder.build(resolve(str(work)), on_event=events.append)
    module_builder.built_names.append(built.name)  # type: ignore[attr-defined]
    return built, "".join(e.get("message", "") for e in events)


@pytest.mark.slow
def test_r_repository_gets_an_r_kernel_and_debian_packages_with_a_report(
    module_builder: Builder, r_image: tuple[BuiltImage, str]
) -> None:
    built, log = r_image
    result = run_in_image(built.name, "./verify")
    assert "VERIFIED" in result.stdout, result.stdout + result.stderr

    report = json.loads(built.labels["org.bindery.r.report"])
    assert report["mode"] == "debian"
    assert "127.0.0.1:9" in report["reason"]
    assert report["missing"] == ["notOnDebianPkg"]
    assert any(item.startswith("jsonlite (r-cran-jsonlite ") for item in report["installed"])
    assert report["r_version"].startswith("4.")
    statuses = {c["line"]: c["status"] for c in report["calls"]}
    assert statuses == {2: "satisfied from Debian",
                        3: "not satisfied: Debian has none of notOnDebianPkg"}
    # The person reading the build log is told the same.
    assert "R packages that could not be had: notOnDebianPkg" in log
    assert "R packages from Debian's r-cran-* packages: http://127.0.0.1:9/cran/2024-01-10" in log
    labels = module_builder.engine.image_labels(built.name) or {}
    assert json.loads(labels["org.bindery.r.report"]) == report


def test_julia_download_that_cannot_be_reached_names_the_url_and_the_setting(
    module_builder: Builder, make_repo, bare_url
) -> None:
    url = bare_url(make_repo({"Project.toml": '[deps]\n\n[compat]\njulia = "~1.10"\n'}, name="julia"))
    events: list[dict] = []
    with pytest.raises(BuildError) as err:
        module_builder.build(resolve(url), on_event=events.append)
    log = "".join(e.get("message", "") for e in events) + str(err.value) + (err.value.log_tail or "")
    assert "Julia 1.10.9 could not be downloaded" in log
    assert f"{CLOSED}/julia-1.10.9-linux-x86_64.tar.gz" in log
    assert "[builder.modules.julia] download_url" in log


def test_r_cran_mode_that_cannot_reach_its_repository_names_the_url_and_the_settings(
    make_repo, bare_url
) -> None:
    settings = Settings()
    settings.builder.image_prefix = PREFIX
    settings.builder.modules = {"r": {"mode": "cran", "repository_url": CLOSED + "/snapshot/{date}"}}
    builder = make_builder(settings)
    url = bare_url(make_repo({"runtime.txt": "r-2024-01-10\n", "install.R": 'install.packages("R6")\n'},
                             name="r-cran"))
    events: list[dict] = []
    with pytest.raises(BuildError) as err:
        builder.build(resolve(url), on_event=events.append)
    log = "".join(e.get("message", "") for e in events) + (err.value.log_tail or "")
    # The error itself (what a launch page shows) names the URL and both settings.
    message = str(err.value)
    assert f"{CLOSED}/snapshot/2024-01-10/src/contrib/PACKAGES could not be reached" in message
    assert "Change [builder.modules.r] repository_url" in message
    assert '[builder.modules.r] mode = "debian"' in message
    assert "checking the R package repository" in log


#: Run inside the built R image, without network: a source package made by R itself is
#: served from a file:// repository (a stand-in for a CRAN snapshot, which cannot be
#: reached from here), then Bindery's own R steps run in mode "cran" as a build runs them.
CRAN_STANDIN = r"""
set -euo pipefail
mkdir -p /tmp/pkg/hellor/R /srv/test-cran/src/contrib
printf 'Package: hellor\nVersion: 0.1.0\nTitle: Says Hello\nDescription: Made by a test.\nLicense: MIT\nAuthor: Bindery tests\nMaintainer: Bindery tests <tests@example.org>\n' > /tmp/pkg/hellor/DESCRIPTION
echo 'export(hello)' > /tmp/pkg/hellor/NAMESPACE
echo 'hello <- function() "hello from a CRAN stand-in"' > /tmp/pkg/hellor/R/hello.R
(cd /tmp/pkg && R CMD build --no-build-vignettes --no-manual hellor >/dev/null && mv hellor_0.1.0.tar.gz /srv/test-cran/src/contrib/)
(cd /srv/test-cran/src/contrib && Rscript -e 'tools::write_PACKAGES(".", type = "source")')
python3 -c '
import json
plan = json.load(open("/srv/bindery-r/plan.json"))
plan.update(mode="cran", repository="file:///srv/test-cran", build_tools=False)
json.dump(plan, open("/srv/bindery-r/plan.json", "w"))
'
mkdir -p /tmp/bindery-deps/r && echo 'install.packages("hellor")' > /tmp/bindery-deps/r/install.R
chown -R 1000:1000 /tmp/bindery-deps
python3 /usr/local/lib/bindery/bindery_r.py system
chown -R 1000:1000 /srv/bindery-r
cd /home/jovyan
as_user() { runuser -u jovyan -- env HOME=/home/jovyan PATH="$PATH" "$@"; }
as_user python3 /usr/local/lib/bindery/bindery_r.py packages deps
as_user python3 /usr/local/lib/bindery/bindery_r.py packages repo
as_user Rscript -e 'cat(hellor::hello(), "\n")'
echo; cat /srv/bindery-r/report.json
"""


def test_r_cran_path_installs_install_r_from_a_file_repository_standin(
    r_image: tuple[BuiltImage, str],
) -> None:
    built, _ = r_image
    result = subprocess.run(
        ["/usr/bin/docker", "run", "--rm", "--network", "none", "--user", "root",
         "--entrypoint", "bash", built.name, "-c", CRAN_STANDIN],
        capture_output=True, text=True, timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "checking the R package repository file:///srv/test-cran" in out
    assert "hello from a CRAN stand-in" in out
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["mode"] == "cran" and report["installed_from"] == "file:///srv/test-cran"
    assert "missing" not in report
