"""`bench --ray`: every cell of a sweep as a Ray task on a cluster; records stream back to the driver.

The driver (the `bench` process) keeps the one writer of results.jsonl, so the table, the plots and the resume
work as on the thread path. A worker runs `execute_cell` (the same attempts, crash reports and checkpoints as a
thread would) in the cell's run folder, which must be on a path every node sees (docs/ray.md). Each node's
local models are served by one `ModelHost` actor on that node, shared by the cells that run there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from budgetmlagent.benchmarks.harness import (
    Cell,
    CellRunner,
    RayOptions,
    SweepSettings,
    cell_dir,
    crashed_record,
    execute_cell,
    local_models,
    relative_record,
)
from budgetmlagent.providers.local_server import LocalServer

NAMESPACE = "budgetmlagent"
INSTALL_HINT = 'pip install "budgetmlagent[ray]"'
# What a worker needs from the driver's environment: API keys and endpoints (the driver checked them) and the
# project's own settings. Ray keeps a job's runtime_env in its control store: docs/ray.md says so.
FORWARDED_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GOOGLE_API_KEY", "GEMINI_API_KEY", "OPENAI_COMPATIBLE_API_KEY")
FORWARDED_PREFIX = "BUDGETMLAGENT_"
CONNECT_TIMEOUT_S = 5.0
WAIT_S = 1.0  # how often the driver wakes from ray.wait, so Ctrl-C is seen at once


class RayUnavailable(RuntimeError):
    """`bench --ray` cannot run: Ray is not installed, or the cluster does not answer."""


def forwarded_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The driver's variables every worker gets through the job's runtime_env."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k in FORWARDED_ENV or k.startswith(FORWARDED_PREFIX)}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def _gcs_address(address: str) -> str | None:
    """host:port of the cluster's control store, or None where it cannot be known before connecting (a
    `ray://` client address). `auto` reads RAY_ADDRESS, then the address file a `ray start` here leaves."""
    if address.startswith("ray://"):
        return None
    if address != "auto":
        return address
    try:
        from ray._private.services import canonicalize_bootstrap_address_or_die
    except ImportError:  # a Ray without it: ray.init finds the cluster itself
        return None
    try:
        return str(canonicalize_bootstrap_address_or_die("auto"))
    except (ConnectionError, ValueError) as exc:
        raise RayUnavailable(f"--ray auto: {exc} (start one with `ray start --head`, or give its address)") from None


def _reachable(host_port: str) -> None:
    """Refuse an address nothing listens on in seconds: ray.init would retry it for minutes."""
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"--ray {host_port!r}: expected auto, local, HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise RayUnavailable(f"no Ray cluster answers at {host_port} ({exc.strerror or exc})") from None


def connect(options: RayOptions) -> tuple[Any, bool]:
    """Join the cluster (`local`: start a private one on this machine). Returns the ray module, and whether
    this call joined (False when the caller, a notebook say, had joined the cluster it wants already)."""
    ray = _import_ray()
    if ray.is_initialized():
        return ray, False
    address: str | None = None if options.address == "local" else options.address
    if address is not None:
        gcs = _gcs_address(address)
        if gcs is not None:
            _reachable(gcs)
    try:
        ray.init(
            address=address,
            namespace=NAMESPACE,
            runtime_env={"env_vars": forwarded_env()},
            log_to_driver=False,  # the cells' own logs stay on their nodes; the driver prints one line a cell
            include_dashboard=False if address is None else None,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot join the Ray cluster at {options.address}: {exc}") from None
    return ray, True


class ModelHost:
    """One node's local model servers: llama.cpp runs in this actor's process, shared by the node's cells."""

    def root_url(self, name: str) -> str:
        from budgetmlagent.providers.local_server import get_server

        return get_server(name).root_url


def host_name(node_id: str) -> str:
    return f"models-{node_id}"


def start_model_hosts(ray: Any) -> list[Any]:
    """A ModelHost pinned to every live node that can run cells. The driver owns them, so they end with the
    sweep (a killed driver's job takes them down too). A node that joins later has none: its cells start
    their own servers, as a single process does."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray.remote(num_cpus=0)(ModelHost)
    hosts = []
    for node in ray.nodes():
        if node.get("Alive") and node.get("Resources", {}).get("CPU", 0) > 0:
            strategy = NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
            hosts.append(remote.options(name=host_name(node["NodeID"]), scheduling_strategy=strategy).remote())
    return hosts


_hosted_on: str | None = None  # the node whose ModelHost this worker process already uses


def use_node_models() -> bool:
    """In a worker: route `local:` models to this node's ModelHost (once per process). False when there is none."""
    global _hosted_on
    import ray

    from budgetmlagent.providers import local_server

    node = ray.get_runtime_context().get_node_id()
    if _hosted_on == node:
        return True
    try:
        host = ray.get_actor(host_name(node), namespace=NAMESPACE)
    except ValueError:
        return False
    own = local_server.get_server

    def hosted(name: str, *, threads: int | None = None, catalogue: Any = None) -> LocalServer:
        try:
            url = ray.get(host.root_url.remote(name))
        except ray.exceptions.RayActorError:  # the host is gone: serve the model from this process instead
            return own(name, threads=threads, catalogue=catalogue)
        return HostedServer(name, url)

    # providers/chat.py looks get_server up at each call, so replacing the module's name routes every cell
    # this process runs; the servers' own process (the host) keeps the real one.
    local_server.get_server = hosted
    _hosted_on = node
    return True


class HostedServer(LocalServer):
    """A server another process (this node's ModelHost) runs: reached by its URL, never stopped from here."""

    def __init__(self, name: str, root_url: str) -> None:
        super().__init__(name, Path(name))
        self._server, self._root_url = root_url, root_url

    def stop(self) -> None:
        self._server = self._root_url = None


def _cell_task(cell: Cell, settings: SweepSettings, runner: CellRunner) -> tuple[dict[str, Any], str]:
    """What a worker runs for one cell: its record, and where it ran (for the driver's log line)."""
    import ray

    shared = use_node_models()
    lines: list[str] = []
    record = execute_cell(cell, settings, runner, lines.append)
    where = ray.util.get_node_ip_address() + (", models from the node's shared server" if shared else "")
    return record | {"_log": lines}, where


def absolute(cells: Sequence[Cell], settings: SweepSettings) -> tuple[list[Cell], SweepSettings]:
    """Cells and settings with absolute paths: a worker's working folder is not the driver's."""
    tasks = [path.resolve() for path in settings.tasks]
    settings = dataclasses.replace(settings, tasks=tasks, out=settings.out.resolve())
    return [dataclasses.replace(cell, task_dir=cell.task_dir.resolve()) for cell in cells], settings


def prepare_tasks(tasks: Sequence[Path], log: Callable[[str], None]) -> None:
    """Build the tasks' data here, once, before any cell: prepare.py's lock holds on one machine only, so the
    first cells of several nodes would otherwise run it at once in a shared task folder."""
    from budgetmlagent.workspace.errors import TaskError
    from budgetmlagent.workspace.task import run_prepare

    for task in tasks:
        try:
            if run_prepare(task):
                log(f"ray: prepared the data of {task.name} here, for every node")
        except (TaskError, OSError) as exc:  # a node with what prepare.py needs may still manage
            log(f"ray: preparing {task.name} here failed, each node will try itself: {str(exc).splitlines()[0]}")


def run_on_ray(
    cells: Sequence[Cell],
    settings: SweepSettings,
    runner: CellRunner,
    *,
    log: Callable[[str], None],
    on_record: Callable[[dict[str, Any]], None],
) -> None:
    """Send every cell to the cluster and hand each record to `on_record` as its cell finishes.

    A worker or node that dies mid-cell has its cell run again elsewhere (Ray's retries; the cell continues
    from its checkpoint). Ctrl-C ends the job: Ray kills the workers of every cell still running and the model
    hosts, so no process or server outlives the sweep, and the cells' checkpoints let the next run resume."""
    options = settings.ray
    if options is None or not cells:  # nothing left to run: no need to reach the cluster
        return
    ray, joined_here = connect(options)
    cells, settings = absolute(cells, settings)
    prepare_tasks(sorted({cell.task_dir for cell in cells}), log)
    hosts = start_model_hosts(ray) if local_models(settings) else []
    task = ray.remote(_cell_task).options(
        num_cpus=options.cpus_per_cell,
        num_gpus=options.gpus_per_cell,
        max_retries=options.max_retries,
        retry_exceptions=False,  # a cell's own crash is retried by execute_cell; Ray retries lost workers
    )
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    log(
        f"ray: {len(cells)} cells to {len(nodes)} nodes ({sum(n.get('CPU', 0) for n in nodes):g} CPUs, "
        f"{sum(n.get('GPU', 0) for n in nodes):g} GPUs), {options.cpus_per_cell:g} CPUs a cell"
        + (f", {len(hosts)} model hosts" if hosts else "")
    )
    if not any(n.get("CPU", 0) >= options.cpus_per_cell and n.get("GPU", 0) >= options.gpus_per_cell for n in nodes):
        # Not refused: an autoscaling cluster starts such a node once the cells ask for it.
        log(
            f"ray: no node has {options.cpus_per_cell:g} CPUs and {options.gpus_per_cell:g} GPUs for a cell "
            "yet: the cells wait until one joins (lower --ray-cpus-per-cell / --ray-gpus-per-cell otherwise)"
        )
    pending = {task.remote(cell, settings, runner): cell for cell in cells}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_S)
            for ref in ready:
                cell = pending.pop(ref)
                record = _collect(ray, ref, cell, settings, log)
                if record is not None:
                    on_record(record)
    except KeyboardInterrupt:
        # Ending the job (ray.shutdown below) makes every node kill the job's workers, the running cells and
        # the model hosts with them; ray.cancel(force=True) on running cells can abort the driver (Ray 2.60).
        log(f"interrupted: cancelling {len(pending)} cells on the cluster; re-run the command to resume them")
        if not joined_here:  # the caller's job goes on: ask each cell to stop instead
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
        raise
    finally:
        for host in hosts:
            with contextlib.suppress(Exception):
                ray.kill(host)
        if joined_here:
            ray.shutdown()


def _collect(ray: Any, ref: Any, cell: Cell, settings: SweepSettings, log: Callable[[str], None]) -> Any:
    """A finished task's record; a crash of the task itself is recorded as the thread path records a crashed
    cell, while a cell whose workers kept dying is left unrecorded, so the next run resumes it."""
    try:
        record, where = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # raised by the sweep's own code on the worker
        error = f"{type(exc.cause).__name__}: {exc.cause}" if exc.cause is not None else str(exc)
        log(f"[{cell.key}] failed on the cluster: {error}")
        return relative_record(crashed_record(cell, settings, [error], cell_dir(cell, settings)) | {"cost_usd": 0.0})
    except ray.exceptions.RayError as exc:
        log(f"[{cell.key}] lost on the cluster ({type(exc).__name__}); re-run the command to resume it")
        return None
    for line in record.pop("_log", []):
        log(line)
    log(f"[{cell.key}] ran on {where}")
    return relative_record(record)
