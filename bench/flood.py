"""A normal hook call's latency while a bad client floods the service with oversized request heads
and slow heads, with the HTTP server as it was (uvicorn's defaults: no limit on a head's size or
time, no connection cap) and with the limits of ``cdshooks/server.py``, side by side.

    python -m bench.flood                  # 200 normal calls per phase; 4 flooders of 16 MiB heads
                                           # and 200 slow heads
    python -m bench.flood --quick          # small and short
    python -m bench.flood --head-mib 64    # larger heads

Each configuration runs the service (authentication off, evaluated in the service process, the
assessment cache off so every call is evaluated) in its own process, as ``serve`` runs it. Per
configuration: p50/p99 of a prefetch-only patient-view call (a 50-variant panel report) with
no attack, then while the flood runs on other connections; the service process's CPU seconds
and peak RSS over the run. Every figure is printed as ``name value unit``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

if not __package__:  # run as a script: the repository root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.hooks import hook_bodies, percentile, post

PATH = "/cds-services/fhir-resist-patient-view"
CONFIGS = ("before", "after")


def serve(config: str, port: int) -> None:
    """The service on ``port``: uvicorn as ``serve`` ran it before the limits, or with them."""
    import uvicorn

    from fhir_resist.cdshooks.app import create_app
    from fhir_resist.cdshooks.limits import Limits
    from fhir_resist.cdshooks.server import uvicorn_options
    from fhir_resist.cdshooks.tuning import tune_gc

    app = create_app()
    tune_gc()
    options = uvicorn_options(Limits.from_env()) if config == "after" else {}
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="critical", **options)


class Served:
    """``serve(config)`` in its own process on a free loopback port."""

    def __init__(self, config: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        env = {**os.environ, "FHIR_RESIST_CDS_AUTH": "off", "FHIR_RESIST_HOOK_CACHE": "0"}
        env.setdefault("FHIR_RESIST_FEEDBACK", os.devnull)
        command = [sys.executable, "-m", "bench.flood", "--serve", config, "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parent.parent)
        until = time.monotonic() + 60
        while time.monotonic() < until:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the service did not start")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


class Flood:
    """Bad clients on other connections until ``stop``: ``big`` threads each sending a request
    head of ``head_mib`` MiB again and again, and ``slow`` connections that send a head a few
    bytes at a time and never finish it (reconnecting when closed)."""

    def __init__(self, port: int, big: int, head_mib: int, slow: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.heads = 0
        self.head = (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (head_mib * 1024 * 1024) + b"\r\n\r\n"
        )
        self.threads = [threading.Thread(target=self._big, daemon=True) for _ in range(big)]
        self.threads.append(threading.Thread(target=self._slow, args=(slow,), daemon=True))

    def __enter__(self) -> Flood:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _big(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
                    sock.sendall(self.head)
                    sock.recv(4096)
            except OSError:
                pass  # refused part-way: the point
            self.heads += 1

    def _slow(self, count: int) -> None:
        held: list[socket.socket] = []
        while not self.stop.is_set():
            while len(held) < count:
                try:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    held.append(sock)
                except OSError:
                    break
            for sock in list(held):
                try:
                    sock.sendall(b"X-a: b\r\n")
                except OSError:
                    held.remove(sock)
                    sock.close()
            self.stop.wait(1.0)
        for sock in held:
            sock.close()


def calls(port: int, body: bytes, count: int) -> list[float]:
    times = []
    for _ in range(count):
        status, ms, data = post(port, PATH, body)
        assert status == 200, (status, data[:200])
        times.append(ms)
    return times


def run(args: argparse.Namespace, emit: Callable[[str, float, str], None]) -> None:
    body = hook_bodies(args.variants)["patient-view"]
    for config in CONFIGS:
        served = Served(config)
        try:
            calls(served.port, body, 20)  # warm up
            quiet = calls(served.port, body, args.calls)
            cpu = served.cpu_seconds()
            with Flood(served.port, args.flooders, args.head_mib, args.slow) as flood:
                flooded = calls(served.port, body, args.calls)
            emit(f"flood_{config}_quiet_p50_ms", statistics.median(quiet), "ms")
            emit(f"flood_{config}_quiet_p99_ms", percentile(quiet, 0.99), "ms")
            emit(f"flood_{config}_p50_ms", statistics.median(flooded), "ms")
            emit(f"flood_{config}_p99_ms", percentile(flooded, 0.99), "ms")
            emit(f"flood_{config}_server_cpu_s", served.cpu_seconds() - cpu, "s")
            emit(f"flood_{config}_server_peak_rss_mib", served.peak_rss_mib(), "MiB")
            emit(f"flood_{config}_big_head_attempts", flood.heads, "heads")
        finally:
            served.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--calls", type=int, default=200, help="normal calls per phase (200)")
    parser.add_argument("--variants", type=int, default=50, help="variants in the normal call's report (50)")
    parser.add_argument("--flooders", type=int, default=4, help="threads sending oversized heads (4)")
    parser.add_argument("--head-mib", type=int, default=16, help="MiB per oversized head (16)")
    parser.add_argument("--slow", type=int, default=200, help="slow-head connections held (200)")
    parser.add_argument("--serve", choices=CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if args.quick:
        args.calls, args.head_mib, args.slow = 30, 4, 20

    def emit(name: str, value: float, unit: str) -> None:
        print(f"{name} {value:.1f} {unit}", flush=True)

    run(args, emit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
