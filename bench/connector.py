"""Connector benchmark: signing cost, pushes to a live city-sim, export bundle size and time.

Run: .venv/bin/python bench/connector.py [--batches 200] [--concurrency 16] [--lines 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


import httpx

from portal.connector import exports, signing
from portal.connector.client import CityClient, build_http_client
from portal.connector.retries import RetryPolicy
from portal.connector.testing import RunningCity, sample_allocation


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench_signing(lines: int) -> None:
    keys = signing.parse_secrets(signing.new_secret())
    body = signing.body_bytes(sample_allocation(items=lines))
    rounds = 2000
    started = time.perf_counter()
    for n in range(rounds):
        header = signing.signature_header(keys, "msg_x", 1_800_000_000 + n, body)
        signing.verify(
            keys,
            {
                "webhook-id": "msg_x",
                "webhook-timestamp": str(1_800_000_000 + n),
                "webhook-signature": header,
            },
            body,
            now=1_800_000_000 + n,
        )
    per = (time.perf_counter() - started) / rounds * 1e6
    print(f"sign+verify a {len(body) / 1024:.0f} KiB body ({lines} lines): {per:.0f} us")


@contextlib.contextmanager
def city_process(folder: Path):
    """Run ``hangang city-sim`` in its own process (one uvicorn worker), as a city would."""
    secret = signing.new_secret()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, HANGANG_CITY_BUDGET_SECRET=secret)
    command = [sys.executable, "-m", "portal.connector.cli", "city-sim", "--port", str(port)]
    command += ["--data", str(folder / "c.sqlite3")]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/schema/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield RunningCity(url=url, secret=secret, app=None)
    finally:
        process.terminate()
        process.wait(timeout=10)


async def bench_pushes(batches: int, concurrency: int, lines: int) -> None:
    with tempfile.TemporaryDirectory() as folder, city_process(Path(folder)) as city:
        async with build_http_client(city.settings) as http:
            client = CityClient(city.settings, http=http, policy=RetryPolicy(attempts=3))
            payloads = [sample_allocation(f"bench-{n}", items=lines) for n in range(batches)]
            latencies: list[float] = []
            gate = asyncio.Semaphore(concurrency)

            async def push(payload: dict) -> None:
                async with gate:
                    started = time.perf_counter()
                    await client.push("allocation", payload)
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            await asyncio.gather(*(push(p) for p in payloads))
            elapsed = time.perf_counter() - started
            print(
                f"push {batches} batches of {lines} lines, {concurrency} at a time: "
                f"{batches / elapsed:.0f} batches/s, p50 {statistics.median(latencies) * 1000:.0f} ms, "
                f"p99 {_percentile(latencies, 0.99) * 1000:.0f} ms"
            )
            latencies.clear()
            started = time.perf_counter()
            await asyncio.gather(*(push(p) for p in payloads))
            elapsed = time.perf_counter() - started
            print(
                f"replay the same {batches} (idempotent 200s): {batches / elapsed:.0f} batches/s, "
                f"p99 {_percentile(latencies, 0.99) * 1000:.0f} ms"
            )
            assert len(city.accepted()) == batches


def bench_exports(lines: int) -> None:
    keys = signing.parse_secrets(signing.new_secret())
    payload = sample_allocation(items=lines)
    started = time.perf_counter()
    bundle = exports.build_bundle(
        exports.allocation_files(payload),
        keys,
        "k1",
        "0" * 64,
        "allocation",
        "b",
        1,
        datetime.now(UTC),
    )
    built = time.perf_counter() - started
    archive = exports.zip_bundle(bundle)
    started = time.perf_counter()
    exports.verify_files(bundle, keys)
    verified = time.perf_counter() - started
    print(
        f"PB export of {lines} lines: built in {built * 1000:.0f} ms, zip {len(archive) / 1024:.0f} KiB, "
        f"verified in {verified * 1000:.1f} ms"
    )
    from portal.connector.testing import sample_award

    award = sample_award(items=min(lines, 50))
    started = time.perf_counter()
    exports.award_files(award)
    print(
        f"award export of {min(lines, 50)} winners (CSV, XLSX, JSON): {(time.perf_counter() - started) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--lines", type=int, default=100)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    bench_signing(args.lines)
    asyncio.run(bench_pushes(args.batches, args.concurrency, args.lines))
    bench_exports(1000)


if __name__ == "__main__":
    main()
