"""Spark processes for tests: a standalone cluster (master + workers) started with pyspark's
own launcher, each a separate JVM; logs go to files, never to the console.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


def spark_home() -> Path:
    """The Spark distribution inside the pyspark wheel (``bin/spark-class``, ``jars/``)."""
    import pyspark

    return Path(pyspark.__file__).parent


def free_port() -> int:
    """A TCP port nobody listens on at the moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    """Wait until ``port`` accepts connections; fail with the log's tail if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}: {tail(log)}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"port {port} not open after {timeout:.0f} s: {tail(log)}")


def tail(log: Path, lines: int = 20) -> str:
    """The last lines of a log file (empty when it does not exist)."""
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def start(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a JVM process in its own process group, output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            list(args), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process group started by :func:`start` (TERM, then KILL)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


@dataclass(frozen=True)
class Cluster:
    """A running standalone cluster."""

    master_url: str
    pids: tuple[int, ...]
    logs: Path


def _worker_registered(log: Path) -> bool:
    return "Successfully registered with master" in (log.read_text(errors="replace") if log.exists() else "")


@contextlib.contextmanager
def standalone_cluster(work: Path, *, workers: int = 2, cores: int = 1, memory: str = "1g") -> Iterator[Cluster]:
    """A Spark standalone master and ``workers`` workers, each a separate JVM on 127.0.0.1.

    Uses ``bin/spark-class org.apache.spark.deploy.master.Master`` and ``...worker.Worker``
    from the pyspark wheel; the web UIs are off (port 0 would still bind), logs are in
    ``work/logs``. Every process is stopped when the block ends.
    """
    home = spark_home()
    launcher = str(home / "bin" / "spark-class")
    logs = work / "logs"
    env = {"SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1",
           "SPARK_LOG_DIR": str(logs), "SPARK_WORKER_DIR": str(work / "work")}
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        master_log = logs / "master.log"
        master = start([launcher, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                        "--port", str(port), "--webui-port", str(free_port())], master_log, env)
        processes.append(master)
        wait_for_port(port, master, master_log)
        url = f"spark://127.0.0.1:{port}"
        worker_logs = []
        for i in range(workers):
            log = logs / f"worker-{i}.log"
            worker_logs.append(log)
            processes.append(start(
                [launcher, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                 "--cores", str(cores), "--memory", memory, "--webui-port", str(free_port()),
                 "--work-dir", str(work / f"work-{i}")],
                log, env,
            ))
        deadline = time.monotonic() + 120
        while not all(_worker_registered(log) for log in worker_logs):
            for process, log in zip(processes[1:], worker_logs):
                if process.poll() is not None:
                    raise RuntimeError(f"worker exited with {process.returncode}: {tail(log)}")
            if time.monotonic() > deadline:
                raise TimeoutError("workers did not register: " + " | ".join(tail(log, 5) for log in worker_logs))
            time.sleep(0.3)
        yield Cluster(url, tuple(p.pid for p in processes), logs)
    finally:
        for process in reversed(processes):
            stop(process)


def run_measured(args: Sequence[str], *, cwd: Path | None = None, timeout: float = 1500) -> tuple[
    subprocess.CompletedProcess[str], float
]:
    """Run ``args`` with captured text output; the result and the peak RSS (MiB) of the
    process and all its descendants (a local JVM counts), sampled every 50 ms."""
    import threading

    import psutil

    child = subprocess.Popen(list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True, env={**os.environ, "COLUMNS": "250"})
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        proc = psutil.Process(child.pid)
        while not done.is_set():
            total = 0
            try:
                for p in (proc, *proc.children(recursive=True)):
                    total += p.memory_info().rss
            except psutil.Error:
                pass
            peak = max(peak, total)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = child.communicate(timeout=timeout)
    finally:
        done.set()
        sampler.join()
        if child.poll() is None:
            child.kill()
            child.wait()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err), peak / 2**20
