"""A real Ray cluster on loopback for the `bench --ray` tests: a head and a second node, each started with
`ray start`, and what their workers import (this folder is on their PYTHONPATH): scripted models that hang
on the second node, and a runner that notes where every cell attempt started."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fakes import ScriptedModels

from budgetmlagent.benchmarks.harness import Cell, SweepSettings, run_agent_cell

RAY = str(Path(sys.executable).with_name("ray"))
STARTS = "starts.jsonl"  # in the sweep folder: one line per cell attempt (key, node, pid)
# A node's death is noticed in about 2 s (the defaults take about 30 s); workers' children die with them.
CLUSTER_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
    "RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper": "true",
    # Ray runs workers at niceness 15: beside anything else busy on this machine the model servers starve.
    "RAY_worker_niceness": "0",
    "PYTHONPATH": str(Path(__file__).parent),
}
OBJECT_STORE_BYTES = "100000000"  # 2-core, 24 GiB machines: Ray would take 30 % of memory by default


def free_ports(count: int) -> list[int]:
    """Distinct free ports: every socket stays bound until all are chosen (one at a time may repeat a port)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def on_head_node() -> bool:
    """True in a worker on the head node (the driver's side of the loopback cluster)."""
    import ray

    me = ray.get_runtime_context().get_node_id()
    return any(n["NodeID"] == me and "node:__internal_head__" in n["Resources"] for n in ray.nodes())


class LoopbackCluster:
    """`ray start --head` plus a second node on this machine, one CPU each; `stop` is `ray stop --force`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        # Short (Ray's socket paths must stay under 108 bytes) and this cluster's own: `stop` finds its processes by it.
        self.temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
        self.port, self.node_manager_port, *self.other_ports = free_ports(5)
        self.env = os.environ | CLUSTER_ENV

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _ray(self, *args: str) -> None:
        log = self.workdir / "ray-start.log"
        with log.open("ab") as sink:
            subprocess.run([RAY, *args], env=self.env, stdout=sink, stderr=sink, check=True, timeout=120)

    def start(self) -> LoopbackCluster:
        common = ["--num-cpus", "1", "--object-store-memory", OBJECT_STORE_BYTES, "--disable-usage-stats"]
        client, head_agent, node_agent = self.other_ports
        self._ray(
            "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(self.port), "--temp-dir", self.temp_dir,
            "--include-dashboard=false", "--ray-client-server-port", str(client),
            "--dashboard-agent-listen-port", str(head_agent), *common,
        )  # fmt: skip
        self._ray(
            "start", "--address", self.address, "--node-ip-address", "127.0.0.1",
            "--node-manager-port", str(self.node_manager_port),
            "--dashboard-agent-listen-port", str(node_agent), *common,
        )  # fmt: skip
        return self

    def kill_second_node(self) -> list[int]:
        """SIGKILL the second node's raylet (the node dies; its workers with it). Returns the pids killed."""
        killed = []
        flag = f"--node_manager_port={self.node_manager_port}"
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"raylet") and flag.encode() in argv:
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
        return killed

    def processes(self) -> list[int]:
        """This cluster's processes: those naming its temp folder or its port, and all their descendants
        (agents, workers, the cells' scripts). Another cluster on the machine (a second test session) is not."""
        marks = (self.temp_dir.encode(), f":{self.port}\0".encode(), f":{self.port} ".encode())
        parents: dict[int, int] = {}
        roots = set()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
                parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if b"ray" in cmdline and any(mark in cmdline for mark in marks):
                roots.add(int(proc.name))
        found, grew = set(roots), True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in found} - found
            found |= more
            grew = bool(more)
        return sorted(found)

    def stop(self) -> None:
        """SIGKILL every process of this cluster (`ray stop --force` would stop every cluster on the machine)."""
        for _ in range(3):  # a worker may start while the raylet is being killed
            pids = self.processes()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if not pids:
                break
            time.sleep(0.5)
        for _ in range(3):  # the killed processes' last log lines may land after the first pass
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            if not Path(self.temp_dir).exists():
                break
            time.sleep(1)


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return shutil.which(RAY) is not None or Path(RAY).exists()


class HangingModels(ScriptedModels):
    """Scripted models that, on the second node only, hang at model call `hang_at` until the node is killed
    (a marker file says so first). A cell's copy travels with its task, so its queue starts full each time."""

    def __init__(self, replies: dict[str, list[Any]], marker_dir: Path, hang_at: int, **kwargs: Any) -> None:
        super().__init__(replies, **kwargs)
        self.marker_dir, self.hang_at = marker_dir, hang_at

    def __call__(self, spec: str, temperature: float, max_tokens: int) -> Any:
        if len(self.settings) + 1 == self.hang_at and not on_head_node():
            (self.marker_dir / f"hanging-{os.getpid()}").write_text(str(os.getpid()))
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:  # the test kills the node long before
                time.sleep(0.2)
            raise RuntimeError("the test never killed the hanging node")
        return super().__call__(spec, temperature, max_tokens)


def noting_runner(cell: Cell, settings: SweepSettings, run_dir: Path) -> dict[str, Any]:
    """run_agent_cell, after noting in the sweep folder where this attempt started."""
    import ray

    line = {"key": cell.key, "node": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}
    with (settings.out / STARTS).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
    return run_agent_cell(cell, settings, run_dir)


def starts(out: Path) -> list[dict[str, Any]]:
    path = out / STARTS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ray_processes(title: str) -> list[int]:
    """Pids of Ray workers titled `ray::<title>`: a worker running that function, or that actor's process."""
    prefix = f"ray::{title}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "cmdline").read_bytes().startswith(prefix):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def running_cell_tasks() -> list[int]:
    return ray_processes("_cell_task")
