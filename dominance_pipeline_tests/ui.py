"""`dagster dev` as a user starts it, and its GraphQL API as the UI calls it: for the GraphQL test and `make e2e`.

`DagsterDev` starts `dagster dev -w workspace.yaml` on 127.0.0.1 with its own DAGSTER_HOME (written by
`ensure_dagster_home`, so the instance is the one `make ui` gets: queued runs, pools, the daemon) and its own
data folder, waits until the code location has loaded, and stops the whole process group on exit, whatever
happened. `launch_materialization` sends the mutation the UI sends when you pick a partition and press
Materialize: a run of the implicit asset job with the assets, their checks and the `dagster/partition` tag.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from dominance_pipeline.settings import PROJECT_ROOT

LOCATION = "dominance_pipeline"
ASSET_JOB = "__ASSET_JOB"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never goes through a proxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def graphql(url: str, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    """POST a query to <url>/graphql; return `data`, raising on transport or GraphQL errors."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, headers={"Content-Type": "application/json"})
    with _NO_PROXY.open(request, timeout=timeout) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


LOCATION_STATUS = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""


class DagsterDev:
    """`dagster dev` in its own process group; a context manager that always stops it."""

    def __init__(self, home: Path, data_dir: Path, port: int, log: Path, extra_env: dict[str, str] | None = None):
        self.home, self.data_dir, self.port, self.log = home, data_dir, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> DagsterDev:
        from dominance_pipeline.instance import ensure_dagster_home

        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} on 127.0.0.1 is already in use: choose another")
        ensure_dagster_home(self.home)
        env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "DOMINANCE_DATA_DIR": str(self.data_dir),
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "GX_ANALYTICS_ENABLED": "False",
            "NO_PROXY": "127.0.0.1,localhost",
            **self.extra_env,
        }
        dagster = Path(sys.executable).with_name("dagster")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("w")
        self.proc = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        out.close()
        return self

    def wait_ready(self, timeout: float = 180) -> None:
        """Until the webserver answers and the code location is LOADED; fails early if dagster dev exits."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {self.proc.returncode}; see {self.log}")
            try:
                entries = graphql(self.url, LOCATION_STATUS, timeout=5)["workspaceOrError"]["locationEntries"]
                entry = next((e for e in entries if e["name"] == LOCATION), None)
                if entry and entry["loadStatus"] == "LOADED":
                    error = entry["locationOrLoadError"]
                    if error and error["__typename"] == "PythonError":
                        raise RuntimeError(f"code location failed to load: {error['message']}")
                    return
                last = f"location {entry['loadStatus'] if entry else 'not listed'}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, TypeError) as exc:
                last = str(exc)
            time.sleep(1)
        raise TimeoutError(f"dagster dev not ready after {timeout:.0f} s ({last}); see {self.log}")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM to the whole group (webserver, daemon, code servers, run workers), SIGKILL after 20 s."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        finally:
            try:  # children that outlived their parent still carry the group id
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc = None


ASSET_NODES = """
{ assetNodes(group: {groupName: "dominance", repositoryName: "__repository__", repositoryLocationName: "dominance_pipeline"}) {
    assetKey { path }
    isPartitioned
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
} }
"""


def asset_checks(url: str) -> dict[str, dict[str, bool]]:
    """Every asset of the group with its checks: {asset: {check: blocking}} (what the asset graph shows)."""
    nodes = graphql(url, ASSET_NODES)["assetNodes"]
    return {
        "/".join(n["assetKey"]["path"]): {c["name"]: c["blocking"] for c in (n["assetChecksOrError"].get("checks") or [])}
        for n in nodes
    }


LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""


def launch_materialization(url: str, assets: list[str], checks: dict[str, list[str]], partition: str) -> str:
    """Launch one run materializing `assets` (and their `checks`) for `partition`, as the UI does; its run id."""
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "pipelineName": ASSET_JOB,
            "assetSelection": [{"path": [a]} for a in assets],
            "assetCheckSelection": [{"assetKey": {"path": [a]}, "name": c} for a, names in checks.items() for c in names],
        },
        "runConfigData": {},
        "mode": "default",
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
    }
    result = graphql(url, LAUNCH, {"params": params})["launchPipelineExecution"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launch refused: {result}")
    return result["run"]["runId"]


RUN_STATUS = """
query Run($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } } }
"""


def wait_run(url: str, run_id: str, timeout: float = 300) -> str:
    """Poll the run until it ends (the daemon dequeues it first); its final status."""
    deadline = time.monotonic() + timeout
    status = "UNKNOWN"
    while time.monotonic() < deadline:
        status = graphql(url, RUN_STATUS, {"runId": run_id})["runOrError"].get("status", status)
        if status in TERMINAL:
            return status
        time.sleep(1)
    raise TimeoutError(f"run {run_id} still {status} after {timeout:.0f} s")


CHECK_EXECUTIONS = """
query Checks($assetKey: AssetKeyInput!, $name: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $name, limit: 5) {
    runId status partition evaluation { severity }
  }
}
"""


def check_executions(url: str, asset: str, check: str) -> list[dict]:
    """The latest executions of one check: run id, status (SUCCEEDED, FAILED, ...) and partition."""
    return graphql(url, CHECK_EXECUTIONS, {"assetKey": {"path": [asset]}, "name": check})["assetCheckExecutions"]
