"""The proxy is a program of its own: it loads nothing of the hub or the binder."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_proxy_imports_no_hub_or_binder_module() -> None:
    code = (
        "import json, sys, bindery.proxy.cli, bindery.proxy.server; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.startswith(('bindery.hub', 'bindery.binder', 'bindery.builder')))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == []
