"""The R module: when R applies, what it asks of Debian, and how it lands in the Dockerfile.

Pure: no engine. The real build is tests/builder/test_build_r_julia.py.
"""

from __future__ import annotations

import json

import pytest

from bindery.builder.modules import ModuleOptionsError, module_options
from bindery.environment import RepoConfigError, detect, render
from bindery.environment.r import REPORT_LABEL, REPORT_PATH, RModule, ROptions
from bindery.environment.r_packages import from_description, from_renv_lock, install_calls


def _detect(make_repo, settings, files: dict[str, str], options: ROptions | None = None):
    return detect(make_repo(files), settings, [RModule(options)])


def _plan_json(plan) -> dict:
    return json.loads(plan.context_files["r/plan.json"])


@pytest.mark.parametrize("line, version, date", [
    ("r-2024-01-10", "", "2024-01-10"),
    ("r-4.3-2024-01-10", "4.3", "2024-01-10"),
    ("r-4.3.2-2024-01-10", "4.3.2", "2024-01-10"),
    ("r-4.3", "4.3", ""),
])
def test_runtime_txt_r_lines_switch_r_on(make_repo, settings, line, version, date) -> None:
    env = _detect(make_repo, settings, {"runtime.txt": line + "\n"})
    (c,) = env.contributions
    assert c.module == "r" and c.sources == ("runtime.txt",)
    assert env.python_version == settings.default_python  # R does not change Python
    plan = render(env, settings, ca_bundle=None)
    data = _plan_json(plan)
    assert data["requested_r_version"] == version
    assert data["repository"].endswith("/" + (date or "latest"))


@pytest.mark.parametrize("line", ["r-", "r-four", "r-2024-13-45", "r-4.3-20240110", "r-4.3-2024-02-30",
                                  "r-4.32024-01-10", "r-4.3-"])
def test_a_malformed_r_runtime_names_the_file_and_the_forms(make_repo, settings, line) -> None:
    with pytest.raises(RepoConfigError, match=r"runtime.txt.*(r-YYYY-MM-DD|calendar date)"):
        _detect(make_repo, settings, {"runtime.txt": line + "\n"})


def test_install_r_alone_does_not_switch_r_on_and_says_how(make_repo, settings) -> None:
    env = _detect(make_repo, settings, {"install.R": 'install.packages("x")\n'})
    (c,) = env.contributions
    assert c.root_setup == "" and c.dependency_section == ""
    plan = render(env, settings, ca_bundle=None)
    assert "r-base-core" not in plan.dockerfile
    assert any("install.R ignored" in line and "r-4.3-2024-01-10" in line for line in plan.summary)


def test_no_r_files_no_contribution(make_repo, settings) -> None:
    env = _detect(make_repo, settings, {"requirements.txt": "six\n"})
    assert env.contributions == ()


def test_description_at_the_root_switches_r_on_but_not_under_a_binder_dir(make_repo, settings) -> None:
    description = "Package: mypkg\nVersion: 0.1\nImports: ggplot2 (>= 3.0),\n    dplyr\nDepends: R (>= 4.0), methods\n"
    env = _detect(make_repo, settings, {"DESCRIPTION": description})
    (c,) = env.contributions
    plan = render(env, settings, ca_bundle=None)
    data = _plan_json(plan)
    assert data["description"] is True
    assert [p["debian"] for p in data["packages"]] == ["r-cran-ggplot2", "r-cran-dplyr"]
    hidden = _detect(make_repo, settings, {"DESCRIPTION": description, "binder/apt.txt": "jq\n"})
    assert hidden.contributions == ()
    assert any("DESCRIPTION" in n for n in hidden.notes)


def test_the_r_layers_come_after_jupyter_and_the_report_becomes_a_label(make_repo, settings) -> None:
    env = _detect(make_repo, settings, {
        "runtime.txt": "r-4.3-2024-01-10\n",
        "install.R": 'install.packages(c("jsonlite", "R6"))\n',
        "postBuild": "echo hi\n",
    })
    plan = render(env, settings, ca_bundle=b"ca")
    d = plan.dockerfile
    order = ["uv pip install 'jupyterlab", "r-base-core r-cran-irkernel r-cran-shiny",
             "bindery_r.py system", "IRkernel::installspec(prefix = \"/srv/venv\"",
             "repo/install.R /tmp/bindery-deps/r/install.R", "bindery_r.py packages deps",
             "COPY --chown=1000:1000 repo/ ", "bindery_r.py packages repo", "./postBuild"]
    positions = [d.index(marker) for marker in order]
    assert positions == sorted(positions), d
    assert plan.report_files == {REPORT_LABEL: REPORT_PATH}
    assert plan.labels["org.bindery.r.mode"] == "auto"
    assert b"def probe(" in plan.context_files["r/bindery_r.py"]
    data = _plan_json(plan)
    assert data["repository"] == "https://packagemanager.posit.co/cran/__linux__/{codename}/2024-01-10"
    assert data["mode"] == "auto" and data["timeout"] == 5.0
    assert data["repository_setting"] == "[builder.modules.r] repository_url"
    summary = "\n".join(plan.summary)
    assert "R 4.3 is asked for" in summary
    assert "else from Debian (mode = \"auto\"): r-cran-jsonlite, r-cran-r6" in summary
    assert "RStudio is not available" in summary


def test_the_shared_r_layer_does_not_change_with_install_r(make_repo, settings) -> None:
    """Editing install.R re-runs the package step only, never the R install."""
    def r_layer(install_r: str) -> str:
        env = _detect(make_repo, settings, {"runtime.txt": "r-2024-01-10\n", "install.R": install_r})
        d = render(env, settings, ca_bundle=None).dockerfile
        return d[: d.index("COPY .bindery/r/bindery_r.py")]

    first = r_layer('install.packages("a")\n')
    assert "r-base-core" in first
    assert first == r_layer('install.packages(c("b", "c"))\n')


def test_options_choose_mode_repository_and_shiny(make_repo, settings) -> None:
    options = module_options(RModule, {"mode": "debian", "repository_url": "https://mirror.example/cran/{date}",
                                       "shiny": False, "probe_timeout": 2, "build_tools": False})
    env = _detect(make_repo, settings, {"runtime.txt": "r-2024-01-10\n"}, options)
    plan = render(env, settings, ca_bundle=None)
    data = _plan_json(plan)
    assert data["mode"] == "debian" and data["timeout"] == 2 and data["build_tools"] is False
    assert data["repository"] == "https://mirror.example/cran/2024-01-10"
    assert "r-cran-shiny" not in plan.dockerfile and "jupyter-server-proxy" not in plan.dockerfile
    assert "r/shiny-proxy.json" not in plan.context_files
    with pytest.raises(ModuleOptionsError, match=r"builder.modules.r.mode"):
        module_options(RModule, {"mode": "cranberry"})


def test_shiny_gets_a_launcher_entry_through_jupyter_server_proxy(make_repo, settings) -> None:
    env = _detect(make_repo, settings, {"runtime.txt": "r-2024-01-10\n"})
    plan = render(env, settings, ca_bundle=None)
    config = json.loads(plan.context_files["r/shiny-proxy.json"])
    shiny = config["ServerProxy"]["servers"]["shiny"]
    assert shiny["launcher_entry"]["title"] == "Shiny"
    assert "shiny::runApp('/home/jovyan', port = {port}" in shiny["command"][-1]
    assert "COPY .bindery/r/shiny-proxy.json /usr/local/etc/jupyter/jupyter_server_config.json" in plan.dockerfile


# -- reading R's files -------------------------------------------------------


def test_install_calls_understood_and_not() -> None:
    text = """\
# install.packages("commented")
install.packages("ggplot2")
install.packages(c('dplyr', "tidyr"), repos = "https://cran.r-project.org")
install.packages(pkgs = c("data.table"), dependencies = TRUE)
utils::install.packages(
  c("a1",
    "b.2")  # trailing comment
)
pkgs <- c("x", "y"); install.packages(pkgs)
devtools::install_github("owner/repo")
remotes::install_version("shiny", version = "1.7.0")
BiocManager::install(c("Biobase", "limma"))
install.packages("https://example.org/pkg.tar.gz", repos = NULL)
"""
    calls = install_calls(text)
    got = [(c.line, c.packages, c.kind) for c in calls]
    assert got == [
        (2, ("ggplot2",), "cran"),
        (3, ("dplyr", "tidyr"), "cran"),
        (4, ("data.table",), "cran"),
        (5, ("a1", "b.2"), "cran"),
        (9, (), ""),
        (10, (), ""),
        (11, ("shiny",), "cran"),
        (12, ("Biobase", "limma"), "bioc"),
        (13, (), ""),
    ]
    assert calls[5].text == 'devtools::install_github("owner/repo")'


def test_description_fields_and_errors() -> None:
    found = from_description("Package: p\nLinkingTo: Rcpp\nImports: stats, utils,\n jsonlite\n", "DESCRIPTION")
    assert [(p.name, p.debian, p.origin) for p in found] == [
        ("jsonlite", "r-cran-jsonlite", "DESCRIPTION Imports"),
        ("Rcpp", "r-cran-rcpp", "DESCRIPTION LinkingTo"),
    ]
    with pytest.raises(RepoConfigError, match="DESCRIPTION has no 'Package:' field"):
        from_description("Title: nothing\n", "DESCRIPTION")


def test_renv_lock_packages_versions_and_sources() -> None:
    lock = json.dumps({
        "R": {"Version": "4.3.2", "Repositories": [{"Name": "CRAN", "URL": "https://cloud.r-project.org"}]},
        "Packages": {
            "R6": {"Package": "R6", "Version": "2.5.1", "Source": "Repository", "Repository": "CRAN"},
            "renv": {"Package": "renv", "Version": "1.0.3", "Source": "Repository"},
            "Biobase": {"Package": "Biobase", "Version": "2.62.0", "Source": "Bioconductor"},
            "thing": {"Package": "thing", "Version": "0.1", "Source": "GitHub"},
        },
    })
    parsed = from_renv_lock(lock, "renv.lock")
    assert parsed.r_version == "4.3.2"
    assert [(p.debian, p.version) for p in parsed.packages] == [
        ("r-bioc-biobase", "2.62.0"), ("r-cran-r6", "2.5.1")]
    assert parsed.elsewhere == ("thing (GitHub)",)
    with pytest.raises(RepoConfigError, match="renv.lock is not valid JSON"):
        from_renv_lock("{", "renv.lock")


def test_renv_lock_alone_switches_r_on_and_is_restored_before_the_copy(make_repo, settings) -> None:
    lock = json.dumps({"R": {"Version": "4.3.2"},
                       "Packages": {"R6": {"Package": "R6", "Version": "2.5.1", "Source": "Repository"}}})
    env = _detect(make_repo, settings, {"renv.lock": lock})
    plan = render(env, settings, ca_bundle=None)
    d = plan.dockerfile
    assert d.index("repo/renv.lock /tmp/bindery-deps/r/renv.lock") < d.index("COPY --chown=1000:1000 repo/ ")
    data = _plan_json(plan)
    assert data["renv_lock"] == "renv.lock" and data["requested_r_version"] == "4.3.2"
    assert any("renv.lock: 1 package, restored exactly with renv" in s for s in plan.summary)
