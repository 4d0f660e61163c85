"""What one online cast costs: CPU milliseconds in the app and in PostgreSQL, and statements per cast.

Wall-clock rates swing with whatever else runs on the machine; CPU time per request does much less. This
script starts a throwaway PostgreSQL cluster (or uses SQLite), seeds the vote_load scenario, serves the
app with ONE worker, drives ``--concurrency`` online voters for ``--seconds`` from a separate process, and
divides the CPU the worker (and the PostgreSQL backends) used by the number of casts. A second, shorter
run with ``log_statement = all`` counts statements and transactions per cast. With ``--py-spy`` it also
records the worker with py-spy and prints the top functions (own time).

    .venv/bin/python bench/cast_cost.py                         # PostgreSQL
    .venv/bin/python bench/cast_cost.py --engine sqlite --seconds 8
    .venv/bin/python bench/cast_cost.py --py-spy /tmp/cast.txt  # also profile the worker
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.append(str(REPO / "bench"))

from vote_load import (  # noqa: E402
    HANGANG,
    PYTHON,
    csrf_token,
    free_port,
    start_postgres,
    stop_everything,
    wait_healthy,
)

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, which: str = "both") -> float:
    """User + system CPU of one process (not its children); ``which``: "user", "system" or "both"."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return {"user": user, "system": system, "both": user + system}[which] / TICK


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry.name))
    return out


def postgres_cpu(pg_dir: str | None) -> float:
    if not pg_dir:
        return 0.0
    postmaster = int(Path(pg_dir, "data", "postmaster.pid").read_text().split()[0])
    total = 0.0
    for pid in children(postmaster):
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def psql(pg_dir: str, url: str, sql: str) -> None:
    port = re.search(r":(\d+)/", url).group(1)  # type: ignore[union-attr]
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres",
                    "-d", "hangang", "-q", *(x for statement in sql.split(";") if statement.strip() for x in ("-c", statement))],
                   check=True, capture_output=True)


def drive(port: int, plan_file: Path, seconds: float, concurrency: int) -> dict:
    out = subprocess.run(
        [PYTHON, str(REPO / "bench" / "vote_load.py"), "--drive", str(plan_file), "--port", str(port),
         "--kind", "cast", "--seconds", str(seconds), "--concurrency", str(concurrency)],
        check=True, capture_output=True, text=True, cwd=REPO,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="postgres")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--voters", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--py-spy", dest="py_spy", help="write py-spy's top functions to this file")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="hangang-castcost-"))
    env = dict(os.environ, HANGANG_VAR_DIR=str(var), HANGANG_ENV="development", HANGANG_SECRET_KEY="bench-" + "k" * 40)
    env.pop("HANGANG_DATABASE_URL", None)
    pg_dir = server = None
    try:
        if args.engine == "postgres":
            pg_dir, env["HANGANG_DATABASE_URL"] = start_postgres()
        subprocess.run([HANGANG, "migrate"], env=env, check=True, capture_output=True, cwd=REPO)
        seeded = subprocess.run([PYTHON, str(REPO / "bench" / "vote_load.py"), "--seed", str(args.voters)],
                                env=env, check=True, capture_output=True, text=True, cwd=REPO)
        plan = json.loads(seeded.stdout.strip().splitlines()[-1])
        port = free_port()
        server = subprocess.Popen([HANGANG, "serve", "--workers", "1", "--port", str(port)], env=env, cwd=REPO,
                                  stdout=open(var / "server.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_healthy(port)
        plan["csrf"] = csrf_token(port)
        plan_file = var / "plan.json"
        plan_file.write_text(json.dumps(plan))
        workers = children(server.pid) or [server.pid]
        drive(port, plan_file, 2, args.concurrency)  # warm caches and the pool
        app0, pg0, t0 = sum(cpu_seconds(p) for p in workers), postgres_cpu(pg_dir), time.perf_counter()
        sys0 = sum(cpu_seconds(p, "system") for p in workers)
        spy = None
        if args.py_spy:
            spy = subprocess.Popen(["py-spy", "record", "-p", str(workers[0]), "-f", "raw", "-o", str(var / "spy.txt"),
                                    "-d", str(int(args.seconds + 2)), "-r", "200", "--gil"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = drive(port, plan_file, args.seconds, args.concurrency)
        app1, pg1, t1 = sum(cpu_seconds(p) for p in workers), postgres_cpu(pg_dir), time.perf_counter()
        sys1 = sum(cpu_seconds(p, "system") for p in workers)
        n = r["requests"]
        print(f"{args.engine}: {n} casts in {t1 - t0:.1f} s ({r['rate']:.1f}/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, "
              f"errors {r['errors'] or 0})")
        print(f"  app worker CPU   {1000 * (app1 - app0) / n:6.2f} ms per cast (of which system {1000 * (sys1 - sys0) / n:.2f} ms)")
        if pg_dir:
            print(f"  PostgreSQL CPU   {1000 * (pg1 - pg0) / n:6.2f} ms per cast")
        if spy:
            spy.wait()
            _top_functions(var / "spy.txt", Path(args.py_spy))
        if pg_dir:
            _count_statements(pg_dir, env["HANGANG_DATABASE_URL"], port, plan_file, args.concurrency)
    finally:
        stop_everything(server, pg_dir, var)
    return 0


def _count_statements(pg_dir: str, url: str, port: int, plan_file: Path, concurrency: int) -> None:
    """A short run with every statement logged: statements and transactions per cast."""
    log = Path(pg_dir, "server.log")
    psql(pg_dir, url, "ALTER SYSTEM SET log_statement = 'all'; SELECT pg_reload_conf();")
    time.sleep(0.5)
    start = log.stat().st_size
    r = drive(port, plan_file, 3, concurrency)
    time.sleep(0.5)
    psql(pg_dir, url, "ALTER SYSTEM RESET log_statement; SELECT pg_reload_conf();")
    with log.open("rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    lines = [m.group(1) for m in re.finditer(r"LOG:  (?:statement|execute [^:]*): (.*)", text)]
    n = r["requests"] + r["requests"] * 2.0 / 3  # the warm-up's casts (2 s of 3) are logged as well
    begins = sum(1 for line in lines if line.upper().startswith("BEGIN"))
    kinds: dict[str, int] = {}
    for line in lines:
        word = " ".join(line.split()[:3])[:60]
        kinds[word] = kinds.get(word, 0) + 1
    print(f"  statements       {len(lines) / n:6.2f} per cast, transactions {begins / n:.2f} per cast (~{n:.0f} casts logged)")
    for word, count in sorted(kinds.items(), key=lambda kv: -kv[1])[:12]:
        print(f"      {count / n:5.2f}  {word}")


def _top_functions(raw: Path, out: Path) -> None:
    """Own-time and total-time shares per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        c = int(count)
        samples += c
        own[frames[-1]] = own.get(frames[-1], 0) + c
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + c
    lines = [f"{samples} samples"] + ["own:"] + [
        f"  {100 * c / samples:5.1f}%  {f}" for f, c in sorted(own.items(), key=lambda kv: -kv[1])[:40]
    ] + ["total:"] + [f"  {100 * c / samples:5.1f}%  {f}" for f, c in sorted(total.items(), key=lambda kv: -kv[1])[:80]]
    out.write_text("\n".join(lines) + "\n")
    out.with_name(out.name + ".collapsed").write_text(raw.read_text())  # for flame graphs and finer questions
    print(f"  py-spy top functions written to {out}")


if __name__ == "__main__":
    sys.exit(main())
