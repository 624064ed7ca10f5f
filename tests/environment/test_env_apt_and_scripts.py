"""apt.txt validation, postBuild and start."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bindery.environment import RepoConfigError, detect
from bindery.environment.apt import parse_apt_txt


def test_apt_txt_packages_installed_as_root_after_jupyter_before_deps(plan_for) -> None:
    plan = plan_for(
        {
            "apt.txt": "# tools\njq\n\ncurl  # inline comment\nlibgdal-dev=3.6.2+dfsg-1\njq\n",
            "requirements.txt": "six\n",
        }
    )
    text = plan.dockerfile
    install = "apt-get install -y -q --no-install-recommends jq curl libgdal-dev=3.6.2+dfsg-1"
    assert install in text
    assert (
        text.index("uv pip install 'jupyterlab")
        < text.index(install)
        < text.index("repo/requirements.txt")
    )
    section = text[text.index("USER root") : text.index(install)]
    assert "--mount=type=cache,target=/var/cache/apt" in section
    assert "apt.txt: 3 packages (jq curl libgdal-dev=3.6.2+dfsg-1)" in plan.summary


@pytest.mark.parametrize(
    "bad",
    [
        "jq; rm -rf /",
        "$(curl evil)",
        "`id`",
        "jq && ls",
        "-o=APT::Get",
        "Jq",
        "a",
        "pkg|cat",
        "pkg>out",
    ],
)
def test_apt_txt_rejects_anything_but_package_names(make_repo, settings, bad) -> None:
    with pytest.raises(RepoConfigError, match=r"apt.txt line 2: .* is not a Debian package name"):
        detect(make_repo({"apt.txt": f"jq\n{bad}\n"}), settings)


@given(st.text(max_size=40))
def test_accepted_apt_lines_never_contain_shell_syntax(text: str) -> None:
    try:
        packages = parse_apt_txt(text)
    except RepoConfigError:
        return
    for name in packages:
        assert not set(name) & set(" \t;|&$`'\"<>()*?[]{}\\!#\n")


def test_no_apt_txt_means_no_extra_apt_layer(plan_for) -> None:
    assert plan_for({}).dockerfile.count("apt-get install") == 1


def test_post_build_runs_as_user_after_repo_copy(plan_for) -> None:
    plan = plan_for({"binder/postBuild": "#!/bin/bash\necho hi\n"})
    text = plan.dockerfile
    run = text.index("chmod +x binder/postBuild && ")
    assert run > text.index("COPY --chown=1000:1000 repo/ /home/jovyan/")
    assert text.rfind("USER ", 0, run) == text.rfind("USER 1000", 0, run)  # not root
    assert "./binder/postBuild" in text[run:]
    assert "binder/postBuild: runs once at build time" in plan.summary


def test_post_build_without_shebang_is_run_with_bash(plan_for) -> None:
    assert "/bin/bash ./postBuild" in plan_for({"postBuild": "echo no shebang\n"}).dockerfile


def test_start_wrapper_is_named_for_the_entrypoint(plan_for) -> None:
    plan = plan_for({"start": '#!/bin/bash\nexport A=1\nexec "$@"\n'})
    assert "ENV BINDERY_START_SCRIPT=/home/jovyan/start" in plan.dockerfile
    assert "RUN chmod +x start" in plan.dockerfile
    assert (
        'ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/usr/local/bin/bindery-start"]'
        in plan.dockerfile
    )
    entry = plan.context_files["bindery-start"].decode()
    assert entry.startswith("#!/bin/sh\n")
    assert 'exec "$BINDERY_START_SCRIPT" "$@"' in entry


def test_no_start_means_entrypoint_runs_command_directly(plan_for) -> None:
    assert "BINDERY_START_SCRIPT" not in plan_for({}).dockerfile
