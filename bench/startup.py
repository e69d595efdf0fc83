"""How long the `libfed` command takes before it does anything: `python -m bench.startup`.

An operator's every `libfed sources list` or cron'd `libfed harvest` pays the start-up,
and so does every test that runs the command in a process. This times, in one run,
ROUNDS alternating rounds of

- `libfed --help` (no configuration read, no database opened), and
- `libfed sources list` against a migrated, empty SQLite database,

each a fresh process as a shell starts it: the median and the fastest round of the
wall time, and the median CPU time (user + system, which other work on a shared machine
disturbs less). Then it lists what `import libfed.root.cli` spends its time on, by
top-level package (`python -X importtime`: the self time of every module, summed).

The code of BEFORE_REV (a worktree under bench/data, run with PYTHONPATH) takes its
turns in the same rounds, on a database of its own: by default 0c20868, the last
commit whose commands imported the whole application before doing anything.

usage: python -m bench.startup [BEFORE_REV]   ('-' for the code of today alone)
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from .intake import _worktree
from .run import BIN, config_file

ROUNDS = 7
BEFORE = "0c20868"
TOP = 12
DOMAINS = ("oai", "harvest", "exchange")  # folders at the root, installed under libfed


def _code(revision: str) -> Path:
    """A worktree of `revision` importable with PYTHONPATH: the editable install maps the
    domain folders into libfed, which a plain path needs as links."""
    folder = _worktree(revision)
    for domain in DOMAINS:
        link = folder / "libfed" / domain
        if (folder / domain).is_dir() and not link.exists():
            link.symlink_to(Path("..") / domain)
    return folder


def _environment(code: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBFED_")}
    env.pop("PYTHONPATH", None)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    return env


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _commands(config: Path) -> dict[str, list[str]]:
    libfed = str(BIN / "libfed")
    return {
        "libfed --help": [libfed, "--config", str(config), "--help"],
        "libfed sources list": [libfed, "--config", str(config), "sources", "list"],
    }


def import_costs(env: dict[str, str]) -> tuple[float, list[tuple[str, float]]]:
    """The whole import of libfed.root.cli (s), and the self time per top-level package
    (s), largest first."""
    done = subprocess.run(
        [sys.executable, "-P", "-X", "importtime", "-c", "import libfed.root.cli"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    per_package: dict[str, float] = defaultdict(float)
    total = 0.0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line[12:].split("|"))
        per_package[name.split(".")[0]] += int(self_us) / 1e6
        if name == "libfed.root.cli":
            total = int(cumulative_us) / 1e6
    ranked = sorted(per_package.items(), key=lambda item: item[1], reverse=True)
    return total, ranked


def main() -> None:
    before = sys.argv[1] if len(sys.argv) > 1 else BEFORE
    codes: dict[str, Path | None] = {"now": None}
    if before != "-":
        codes[f"before ({before})"] = _code(before)
    measured: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as folder:
        runs = {}
        for number, (variant, code) in enumerate(codes.items()):
            env = _environment(code)
            config = config_file(Path(folder) / f"startup{number}.sqlite3")
            subprocess.run(
                [str(BIN / "libfed"), "--config", str(config), "db", "upgrade"],
                check=True,
                stdout=subprocess.DEVNULL,
                env=env,
            )
            runs[variant] = (env, _commands(config))
        for _round in range(ROUNDS):
            for variant, (env, commands) in runs.items():
                for label, command in commands.items():
                    measured[variant, label].append(_timed(command, env))
    print(f"CLI start-up, {ROUNDS} alternating rounds (seconds):")
    for (variant, label), times in measured.items():
        walls = [wall for wall, _cpu in times]
        cpu = statistics.median(cpu for _wall, cpu in times)
        print(
            f"  {variant:<18} {label:<20} wall median {statistics.median(walls):.3f}"
            f"  min {min(walls):.3f}  cpu median {cpu:.3f}"
        )
    for variant, code in codes.items():
        total, ranked = import_costs(_environment(code))
        print(f"{variant}: import libfed.root.cli {total:.3f} s; self time by top-level package:")
        print("  " + ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in ranked[:TOP]))


if __name__ == "__main__":
    main()
