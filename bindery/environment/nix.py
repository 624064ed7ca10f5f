"""The ``nix`` environment module: ``default.nix`` → the Nix package manager and a nix-shell.

As repo2docker: a ``default.nix`` in the config directory installs Nix for the user
(single-user, no daemon, sandbox off because builds run in a container), adds the
nixpkgs channel, builds the shell of ``default.nix`` at build time, and runs every command
of the image inside ``nix-shell default.nix`` (the Jupyter server too).

Nix's installer and its channel live on the internet (nixos.org): both are settings, and
a failed download names the URL and the setting to change.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from importlib import resources

from bindery.environment.errors import RepoConfigError
from bindery.environment.modules import Contribution, EnvironmentModule
from bindery.environment.options import EnvironmentOptions
from bindery.environment.repo_files import ConfigFiles

FETCH_IN_IMAGE = "/usr/local/lib/bindery/nix_fetch.py"
WRAPPER_IN_IMAGE = "/usr/local/bin/bindery-nix-shell"
HOME = "/home/jovyan"


@dataclass(frozen=True)
class NixOptions:
    """``[builder.modules.nix]``."""

    #: The Nix release tarball; ``{version}`` and ``{arch}`` ("x86_64") are filled in.
    installer_url: str = "https://releases.nixos.org/nix/nix-{version}/nix-{version}-{arch}-linux.tar.xz"
    version: str = "2.13.2"
    #: SHA-256 of the tarball for this version and x86_64 (as published by Nix); empty skips the check.
    installer_sha256: str = "beaec0f28899c22f33adbe30e4ecfceef87b797278c5210ee693e22e9719dfb4"
    #: The nixpkgs channel ``default.nix`` is evaluated against.
    channel_url: str = "https://nixos.org/channels/nixpkgs-unstable"
    timeout: float = 30.0


#: Runs the image's command inside the repository's nix-shell (the image's start wrapper).
_WRAPPER = """\
#!/bin/bash
# Bindery: run the command inside the nix-shell of the repository's default.nix.
. "$HOME/.nix-profile/etc/profile.d/nix.sh"
exec nix-shell "$BINDERY_NIX_FILE" --command "$(printf '%q ' "$@")"
"""


class NixModule(EnvironmentModule):
    """Nix and the shell of ``default.nix`` (see the module docstring)."""

    name = "nix"
    claims = ("default.nix",)
    order = 20
    options_type = NixOptions

    def detect(self, files: ConfigFiles, settings: EnvironmentOptions) -> Contribution | None:
        options: NixOptions = self.options
        text = files.read_text("default.nix")  # refuses a non-text file by name
        if text is None:
            return None
        if not text.strip():
            raise RepoConfigError(
                f"{files.rel('default.nix')} is empty; it must be a Nix expression for "
                "nix-shell (e.g. `with import <nixpkgs> {}; mkShell { buildInputs = [ jq ]; }`)."
            )
        origin = files.rel("default.nix")
        url = options.installer_url.replace("{version}", options.version).replace("{arch}", "x86_64")
        fetch = (
            f"python3 {FETCH_IN_IMAGE} {shlex.quote(url)} /tmp/nix.tar.xz "
            f"--what {shlex.quote('the Nix ' + options.version + ' installer')} "
            f"--setting {shlex.quote('[builder.modules.nix] installer_url')} "
            + (f"--sha256 {shlex.quote(options.installer_sha256)} " if options.installer_sha256 else "")
            + f"--extract /tmp/nix-installer --strip 1 --timeout {options.timeout:g}"
        )
        channel = shlex.quote(options.channel_url)
        nix_file = f"{HOME}/{origin}"
        return Contribution(
            module="nix",
            sources=(origin,),
            root_setup=f"""\
COPY .bindery/nix/bindery_fetch.py {FETCH_IN_IMAGE}
COPY .bindery/nix/bindery-nix-shell {WRAPPER_IN_IMAGE}
RUN chmod 0755 {WRAPPER_IN_IMAGE} \\
 && install -d -m 0755 -o 1000 -g 1000 /nix \\
 && mkdir -p /etc/nix \\
 && echo "sandbox = false" > /etc/nix/nix.conf
""",
            dependency_section=f"""\
RUN {fetch} \\
 && sh /tmp/nix-installer/install --no-daemon --no-channel-add --no-modify-profile \\
 && rm -rf /tmp/nix-installer
""",
            repo_section=(
                f'RUN . "$HOME/.nix-profile/etc/profile.d/nix.sh" '
                f"&& (nix-channel --add {channel} nixpkgs && nix-channel --update "
                f"|| {{ echo '[bindery] ERROR: the nixpkgs channel '{channel}' could not be "
                "fetched; set [builder.modules.nix] channel_url to a mirror this build can "
                f"reach.'; exit 1; }}) && nix-shell {shlex.quote(nix_file)} --command true\n"
            ),
            env={
                "NIX_PATH": f"nixpkgs={HOME}/.nix-defexpr/channels/nixpkgs",
                "NIX_SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
                "BINDERY_NIX_FILE": nix_file,
                "BINDERY_START_SCRIPT": WRAPPER_IN_IMAGE,
            },
            path_prepend=(f"{HOME}/.nix-profile/bin",),
            labels={"org.bindery.nix": options.version},
            context_files={
                "nix/bindery_fetch.py": resources.files("bindery.environment")
                .joinpath("image_scripts", "bindery_fetch.py").read_bytes(),
                "nix/bindery-nix-shell": _WRAPPER.encode(),
            },
            summary=(
                f"Nix {options.version} from {url}; every command runs in nix-shell {origin} "
                f"(channel {options.channel_url})",
            ),
            notes=(
                f"{origin}: a repository start script replaces the nix-shell wrapper; "
                "call nix-shell from it to keep the Nix environment.",
            ) if files.has("start") else (),
        )
