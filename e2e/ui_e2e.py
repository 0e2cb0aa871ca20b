"""The Dagster UI in a real browser: `make e2e`.

Starts `dagster dev -w workspace.yaml` on 127.0.0.1 (port --port, default $E2E_PORT or 3333) with a fresh
instance and warehouse under data/e2e/run, and drives Debian's headless Chromium through chromedriver
(Selenium) as a newcomer would:

1. opens the asset graph and checks that every asset of the chain is drawn;
2. opens each monthly asset's Checks tab and checks that its checks are listed;
3. on monthly_job, presses "Materialize all", types the partition 2026-05-01 and launches the run with the
   default run config (local source, the bundled sample): no launchpad editing;
4. waits on the run's page until it says Success, then confirms every gating check passed for 2026-05;
5. waits for timeseries_refresh_sensor to refresh the time series and opens its chart;
6. executes the freshness check from its Checks tab: with only 2026-05 there, it must warn.

Screenshots of each step go to data/e2e/*.png, the dagster dev log to data/e2e/dagster_dev.log. Whatever
happens, the browser and every dagster process are stopped before it exits (non-zero on any failure).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dominance_pipeline_tests.ui import DagsterDev, asset_checks, check_executions, graphql  # noqa: E402

MONTHLY = ["raw_hub_listings", "origin_tagged_models", "monthly_aggregates", "dominance_indices", "monthly_leaderboard"]
ALL_MONTHS = ["dominance_timeseries", "dominance_crossover"]
PARTITION = "2026-05-01"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-proxy-server", "--window-size=1600,1000",
]
WINDOW = (1600, 1000)
GRAPH_WINDOW = (2400, 1350)


class Step:
    """Prints each step with its time, so a slow or failing step is obvious in CI's log."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[e2e {time.monotonic() - self.t0:6.1f} s] {text}", flush=True)


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def wait_for(condition, timeout: float, what: str, poll: float = 0.5):
    """Poll `condition()` until it returns something truthy; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - the page is still rendering; try again
            value = None
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def body_text(drv) -> str:
    from selenium.webdriver.common.by import By

    return drv.find_element(By.TAG_NAME, "body").text


def shot(drv, out: Path, name: str, step: Step) -> None:
    path = out / f"{name}.png"
    drv.save_screenshot(str(path))
    step(f"screenshot {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def asset_graph(drv, url: str, out: Path, name: str, step: Step) -> None:
    """The group's lineage at a size where each node shows its details, one "Asset checks" row per asset."""
    drv.set_window_size(*GRAPH_WINDOW)
    try:
        drv.get(f"{url}/asset-groups/dominance")
        wait_for(lambda: all(a in body_text(drv) for a in MONTHLY + ALL_MONTHS), 60, "every asset on the asset graph")
        wait_for(lambda: body_text(drv).count("Asset checks") == len(MONTHLY + ALL_MONTHS), 30,
                 "an 'Asset checks' row on every node of the graph")
        time.sleep(1)  # let the graph finish its layout animation before the picture
        shot(drv, out, name, step)
    finally:
        drv.set_window_size(*WINDOW)


def checks_tabs(drv, url: str, expected: dict[str, dict[str, bool]], out: Path, step: Step) -> None:
    pictures = {"raw_hub_listings": "02_checks_raw_hub_listings", "dominance_indices": "03_checks_dominance_indices"}
    for asset in MONTHLY:
        drv.get(f"{url}/assets/{asset}?view=checks")
        names = sorted(expected[asset])
        wait_for(lambda: f"Checks ({len(names)})" in body_text(drv) and all(n in body_text(drv) for n in names), 60,
                 f"the checks of {asset} ({', '.join(names)})")
        step(f"{asset}: checks shown: {', '.join(names)}")
        if asset in pictures:
            shot(drv, out, pictures[asset], step)


def launch_from_ui(drv, url: str, out: Path, step: Step) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    drv.get(f"{url}/locations/dominance_pipeline/jobs/monthly_job")
    button = wait_for(lambda: next(b for b in drv.find_elements(By.XPATH, "//button[contains(., 'Materialize all')]") if b.is_enabled()),
                      60, "the Materialize all button on monthly_job")
    button.click()
    dialog = wait_for(lambda: drv.find_element(By.XPATH, "//*[@role='dialog'][contains(., 'Launch runs to materialize')]"), 30,
                      "the launch dialog")
    # The dialog starts on the last 90 days, which 2026-05 may lie before: widen it to every partition.
    show_all = wait_for(lambda: dialog.find_element(By.XPATH, ".//button[contains(., 'Show all partitions')]"), 30,
                        "the dialog's 'Show all partitions' link")
    show_all.click()
    wait_for(lambda: "Showing the last 90 days" not in dialog.text, 10, "the dialog to show every partition")
    box = wait_for(lambda: dialog.find_element(By.XPATH, ".//input[@type='text']"), 10, "the partition selection box")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(PARTITION)
    box.send_keys(Keys.ENTER)
    launch = wait_for(lambda: next(b for b in dialog.find_elements(By.XPATH, ".//button[starts-with(normalize-space(.), 'Launch')]")
                                   if b.is_enabled() and "1 run" in b.text), 30, "the button to launch 1 run")
    shot(drv, out, "04_launch_dialog", step)
    step(f"pressing '{launch.text}' for {PARTITION}")
    launch.click()


LATEST_RUN = """
{ runsOrError(filter: {pipelineName: "monthly_job", tags: [{key: "dagster/partition", value: "%s"}]}, limit: 1) {
    ... on Runs { results { runId status tags { key value } } } } }
"""


def wait_success_in_browser(drv, url: str, out: Path, step: Step) -> str:
    runs = wait_for(lambda: graphql(url, LATEST_RUN % PARTITION)["runsOrError"]["results"], 60, "the launched run to appear")
    run_id = runs[0]["runId"]
    step(f"run {run_id} launched from the UI; following it on its page")
    drv.get(f"{url}/runs/{run_id}")

    def status() -> str | None:
        text = body_text(drv)
        for word in ("Success", "Failure", "Canceled"):
            if f"\n{word}\n" in f"\n{text}\n" or f"Run {word.lower()}" in text.lower():
                return word
        return None

    final = wait_for(status, 600, f"run {run_id} to finish", poll=2)
    time.sleep(1)
    shot(drv, out, "05_run_page", step)
    if final != "Success":
        raise AssertionError(f"run {run_id} ended with {final}; see {out / '05_run_page.png'} and the dagster dev log")
    step(f"run {run_id}: Success")
    return run_id


def gating_checks_passed(url: str, run_id: str, expected: dict[str, dict[str, bool]], step: Step) -> None:
    for asset in MONTHLY:
        for check, blocking in expected[asset].items():
            if not blocking:
                continue
            latest = check_executions(url, asset, check)[0]
            assert latest["runId"] == run_id and latest["partition"] == PARTITION and latest["status"] == "SUCCEEDED", (
                f"{check} on {asset}: {latest}")
    step("every blocking check of the chain passed for 2026-05 in that run")


def timeseries_refreshed(drv, url: str, out: Path, step: Step, timeout: float) -> None:
    query = '{ runsOrError(filter: {tags: [{key: "dagster/sensor_name", value: "timeseries_refresh_sensor"}]}, limit: 1) { ... on Runs { results { runId status } } } }'

    def finished():
        results = graphql(url, query)["runsOrError"]["results"]
        return results[0] if results and results[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

    run = wait_for(finished, timeout, "timeseries_refresh_sensor to refresh the time series", poll=3)
    if run["status"] != "SUCCESS":
        raise AssertionError(f"the time-series refresh run {run['runId']} ended with {run['status']}")
    step(f"timeseries_refresh_sensor refreshed the series: run {run['runId']} succeeded")
    from selenium.webdriver.common.by import By

    drv.get(f"{url}/assets/dominance_timeseries")
    wait_for(lambda: "chart_file" in body_text(drv) and "2026-05" in body_text(drv), 60, "the time series' metadata")
    row = wait_for(lambda: drv.find_element(By.XPATH, "//tr[td[normalize-space(.)='chart']]"), 30, "the metadata row 'chart'")
    row.find_element(By.XPATH, ".//button | .//a").click()
    image = wait_for(lambda: next(i for i in drv.find_elements(By.XPATH, "//*[@role='dialog']//img") if i.get_attribute("naturalWidth") not in (None, "0")),
                     30, "the chart image to load")
    step(f"chart shown: {image.get_attribute('naturalWidth')}x{image.get_attribute('naturalHeight')} px")
    wait_for(lambda: dialog_settled(drv), 10, "the chart dialog to finish opening")  # else the shot catches its fade-in
    shot(drv, out, "06_timeseries_chart", step)


# True once no element of the dialog (or the page behind it) is still fading: every ancestor of the
# dialog fully opaque and no enter transition running.
DIALOG_SETTLED_JS = """
const d = document.querySelector("[role='dialog']");
if (!d || document.querySelector("[class*='enter-active']")) return false;
for (let e = d; e; e = e.parentElement) { if (parseFloat(getComputedStyle(e).opacity) < 1) return false; }
return true;
"""


def dialog_settled(drv) -> bool:
    if not drv.execute_script(DIALOG_SETTLED_JS):
        return False
    time.sleep(0.3)  # one more frame for the backdrop's own transition
    return bool(drv.execute_script(DIALOG_SETTLED_JS))


def freshness_from_ui(drv, url: str, out: Path, step: Step) -> None:
    """Execute dominance_indices_fresh from its Checks tab: only 2026-05 is there, so it warns, naming the gap."""
    from selenium.webdriver.common.by import By

    drv.get(f"{url}/assets/dominance_timeseries?view=checks")
    wait_for(lambda: "dominance_indices_fresh" in body_text(drv), 30, "the freshness check on dominance_timeseries")
    drv.find_element(By.XPATH, "//*[normalize-space(.)='dominance_indices_fresh']").click()
    execute = wait_for(lambda: next(b for b in drv.find_elements(By.XPATH, "//button[normalize-space(.)='Execute']") if b.is_enabled()),
                       30, "the check's Execute button")
    before = {e["runId"] for e in check_executions(url, "dominance_timeseries", "dominance_indices_fresh")}
    execute.click()
    latest = wait_for(lambda: next((e for e in check_executions(url, "dominance_timeseries", "dominance_indices_fresh")
                                    if e["runId"] not in before and e["status"] in ("SUCCEEDED", "FAILED")), None),
                      120, "the freshness check to run", poll=2)
    drv.get(f"{url}/assets/dominance_timeseries?view=checks")
    wait_for(lambda: "the latest month is 2026-05" in body_text(drv), 30, "the freshness result on the Checks tab")
    assert latest["status"] == "FAILED" and latest["evaluation"]["severity"] == "WARN", latest
    step("dominance_indices_fresh executed from the UI: WARN, the months after 2026-05 are missing")
    shot(drv, out, "08_freshness_warn", step)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("E2E_PORT", "3333")))
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "e2e")
    parser.add_argument("--sensor-timeout", type=float, default=180, help="seconds to wait for the time-series refresh")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops dagster dev and the browser

    out: Path = args.out.resolve()
    work = out / "run"
    shutil.rmtree(work, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    step = Step()
    profile = Path(tempfile.mkdtemp(prefix="e2e-chromium-"))
    dev = DagsterDev(work / "dagster_home", work / "data", args.port, out / "dagster_dev.log")
    drv = None
    try:
        dev.__enter__()  # stopped in `finally`, after any failure screenshot
        step(f"dagster dev starting on {dev.url} (DAGSTER_HOME={dev.home})")
        dev.wait_ready()
        step("code location loaded")
        expected = asset_checks(dev.url)
        drv = browser(profile)
        asset_graph(drv, dev.url, out, "01_asset_graph", step)
        checks_tabs(drv, dev.url, expected, out, step)
        launch_from_ui(drv, dev.url, out, step)
        run_id = wait_success_in_browser(drv, dev.url, out, step)
        gating_checks_passed(dev.url, run_id, expected, step)
        timeseries_refreshed(drv, dev.url, out, step, args.sensor_timeout)
        asset_graph(drv, dev.url, out, "07_asset_graph_after", step)
        freshness_from_ui(drv, dev.url, out, step)
        step("PASSED")
        return 0
    except Exception as exc:  # noqa: BLE001 - report, keep a picture of the moment, clean up, fail
        step(f"FAILED: {type(exc).__name__}: {exc}")
        if drv is not None:
            try:
                drv.save_screenshot(str(out / "99_failure.png"))
                step(f"screenshot of the failure: {out / '99_failure.png'}")
            except Exception:  # noqa: BLE001
                pass
        return 1
    finally:
        if drv is not None:
            drv.quit()
        dev.stop()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
