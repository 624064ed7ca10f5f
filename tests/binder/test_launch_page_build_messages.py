"""The launch page in real headless Chromium shows what the builder says a person must
see: the substituted-Python warning above the log, and a failing step named with its own
last line (not BuildKit's executor lines)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.browser]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def test_python_warning_and_failing_step_on_the_launch_page(stack, git_server):
    from playwright.sync_api import expect, sync_playwright

    repo = git_server.publish({
        "runtime.txt": "python-3.10\n",
        "postBuild": "#!/bin/bash\nset -e\necho getting ready\nnpm-typo install --global x\n",
    })
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(stack.url + "v2/git/" + quote(repo, safe="") + "/HEAD")
        expect(page.locator("#launcher")).to_have_attribute("data-phase", "failed",
                                                             timeout=600_000)
        warnings = page.locator("#warnings")
        expect(warnings).to_be_visible()
        expect(warnings).to_contain_text("runtime.txt asks for Python 3.10")
        expect(warnings).to_contain_text("using Python 3.11")
        # The reproducibility grade, from the build log's summary line.
        expect(page.locator("#grade-letter")).to_have_text("D")
        expect(page.locator("#grade")).to_contain_text("Python 3.10 asked for, 3.11 provided")
        status = page.locator("#status")
        expect(status).to_contain_text(
            "postBuild failed (exit code 127): postBuild, line 4: npm-typo: command not found")
        expect(status).to_contain_text("getting ready")
        assert "executor failed" not in status.inner_text()
        browser.close()
