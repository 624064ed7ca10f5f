"""End to end in real headless Chromium: paste a repository URL into the launch form,
watch the progress, land in JupyterLab with the notebook open, run a cell, read its output."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.browser]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

NOTEBOOK = json.dumps({
    "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
               "outputs": [], "source": ["print('answer', 6 * 7)"]}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5})


def test_paste_launch_watch_progress_run_a_cell(stack, git_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    repo = git_server.publish({"analysis.ipynb": NOTEBOOK, "requirements.txt": ""})
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(stack.url)
        page.fill("#repository", repo)
        page.fill("#path", "analysis.ipynb")
        # The form understood the pasted URL: git provider, link and badge snippets shown.
        expect(page.locator("#launch-url")).to_have_value(
            stack.url + "v2/git/" + repo.replace(":", "%3A").replace("/", "%2F")
            + "/HEAD?labpath=analysis.ipynb", timeout=10_000)
        expect(page.locator("#badge-md")).to_have_value(
            "[![Binder](" + stack.url + "badge_logo.svg)](" + page.locator(
                "#launch-url").input_value() + ")")
        assert page.locator("#provider").input_value() == "git"
        page.click("#launch")
        page.wait_for_url("**/v2/git/**", timeout=10_000)
        # The progress bar moves through the phases (launching at least) before landing.
        # (A locator, not wait_for_function: the page's CSP forbids evaluating strings.)
        expect(page.locator("#launcher")).to_have_attribute(
            "data-phase", re.compile(r"^(building|built|launching|ready)$"), timeout=600_000)
        page.wait_for_url("**/user/tmp-*/lab/tree/analysis.ipynb*", timeout=600_000)
        # JupyterLab with the requested notebook open.
        tab = page.locator(".lm-TabBar-tab", has_text="analysis.ipynb")
        expect(tab).to_be_visible(timeout=120_000)
        cell = page.locator(".jp-NotebookPanel .jp-Cell").first
        expect(cell).to_contain_text("6 * 7", timeout=60_000)
        # Run the cell once the kernel is connected and idle, then read its output.
        expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=120_000)
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        output = page.locator(".jp-OutputArea-output").first
        try:
            expect(output).to_contain_text("answer 42", timeout=120_000)
        finally:
            page.screenshot(path=str(tmp_path / "jupyterlab.png"))
        browser.close()


def test_a_failed_launch_shows_the_reason_and_opens_the_log(stack, git_server):
    from urllib.parse import quote

    from playwright.sync_api import expect, sync_playwright

    repo = git_server.publish({"README.md": "x"})
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(stack.url + "v2/git/" + quote(repo, safe="") + "/no-such-branch")
        expect(page.locator("#launcher")).to_have_attribute("data-phase", "failed",
                                                             timeout=60_000)
        expect(page.locator("#status")).to_contain_text("no-such-branch")
        assert page.locator("#log-box").get_attribute("open") is not None
        assert "/user/" not in page.url
        browser.close()
