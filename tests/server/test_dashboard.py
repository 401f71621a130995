"""The dashboard page in a real headless Chromium (Debian's `chromium`, driven by Playwright for Python
through `executable_path`; no browser is downloaded) against a running experiment on 127.0.0.1."""
from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import pytest

import tunelab
from tunelab.trial import Trial

from .live import running, wait_for

pytestmark = pytest.mark.timeout(90)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs")


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                                                                 "(pip install 'tunelab[test]')")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def four_cpus(fresh_executor):
    tunelab.init(num_cpus=4)


def test_page_shows_and_steers_a_running_experiment(browser, four_cpus, tmp_path):
    config = {"lr": tunelab.grid_search([0.1, 0.3, 0.9]), "depth": tunelab.grid_search([2])}
    with running(config) as live:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        requests_seen: list[str] = []
        problems: list[str] = []
        page.on("request", lambda request: requests_seen.append(request.url))
        page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

        page.goto(f"{live.url}/?interval=300")
        rows = page.locator("#trials tbody tr")
        wait_for(lambda: rows.count() == 3, "the three trials in the table")
        assert sorted(page.locator("#trials tbody tr").evaluate_all("rs => rs.map(r => r.dataset.status)")) == \
            [Trial.RUNNING] * 3
        headers = page.locator("#trials thead th").all_inner_texts()
        assert {"lr", "depth", "loss", "iterations", "time (s)"} <= set(headers)
        page.wait_for_selector("#curves .scatterlayer .trace path.js-line", timeout=15_000)  # a learning curve
        page.wait_for_selector("#parcoords .scatterlayer .trace path.js-line", timeout=15_000)  # parallel coordinates
        page.wait_for_selector("#best .scatterlayer .trace", timeout=15_000)
        page.wait_for_selector("#importance .barlayer .trace", timeout=20_000)

        # a click on a column sorts by it, a second click reverses; the filter keeps matching rows
        lr_cells = f"#trials tbody tr td:nth-child({headers.index('lr') + 1})"
        page.locator("#trials thead th", has_text="lr").click()
        assert page.locator(lr_cells).all_inner_texts() == ["0.10000", "0.30000", "0.90000"]
        page.locator("#trials thead th", has_text="lr").click()
        assert page.locator(lr_cells).all_inner_texts() == ["0.90000", "0.30000", "0.10000"]
        page.fill("#filter", "0.30000")
        assert page.locator(lr_cells).all_inner_texts() == ["0.30000"]
        page.fill("#filter", "")

        victim = live.trials()[0]["id"]
        page.locator(f"button.stop[data-id='{victim}']").click()
        wait_for(lambda: page.locator(f"#trials tbody tr[data-id='{victim}']").get_attribute("data-status")
                 == Trial.TERMINATED, "the stopped trial to show TERMINATED")
        assert live.status(victim) == Trial.TERMINATED
        assert "TERMINATED" in page.locator("#message").inner_text()

        page.fill("#add-name", "from_page")
        page.fill("#add-spec", '{"run": "looping_trainable", "config": {"lr": 0.05, "depth": 3}}')
        page.click("#add-button")
        added = wait_for(lambda: [t for t in live.trials() if t["config"] == {"lr": 0.05, "depth": 3}],
                         "the trial added from the page")
        wait_for(lambda: live.status(added[0]["id"]) == Trial.RUNNING and rows.count() == 4,
                 "the added trial to run and be listed")
        wait_for(lambda: page.locator(f"#trials tbody tr[data-id='{added[0]['id']}']").get_attribute("data-status")
                 == Trial.RUNNING, "the page to show the added trial RUNNING")

        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("TUNELAB_UPDATE_SCREENSHOT"):  # refresh the one in docs/dashboard.md
            shutil.copy(shot, os.path.join(DOCS, "dashboard.png"))
        page.close()

        assert problems == []
        hosts = {urlsplit(url).netloc for url in requests_seen if not url.startswith("data:")}
        assert hosts == {f"127.0.0.1:{live.port}"}, hosts
        live.stop_everything()
        trials = live.finish()
    assert len(trials.trials) == 4 and all(t.status == Trial.TERMINATED for t in trials.trials)
