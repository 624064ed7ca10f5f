"""Chaos: kill -9 the hub, the proxy or a user's server at a random moment during launches.

Each of ``--iterations`` rounds launches ``--launches`` new servers at once through the
hub's API and, after a random delay (0 to ``--max-delay`` s), sends SIGKILL to one
victim: the hub process, the proxy process, or one running user server. Then it does
what an operator would (restart a killed hub; nothing else) and watches, for up to
``--recover-timeout`` s, whether every server that should be running is running again
and reachable through the proxy. It reports per round and in total:

- lost servers: launched successfully (or running before), never stopped on purpose, and
  not reachable through the proxy when the round ends (target 0);
- time to recover: from the kill until every such server answers through the proxy;
- every user-visible error: failed launches, failed requests through the proxy during
  recovery, a hub that does not come back, and servers the hub shows in a wrong state;
- leaked processes: user-server processes alive that the hub no longer lists.

Bounded (rounds × launches servers, loopback only); the state directory is removed at
the end unless ``--keep``.

    .venv/bin/python benchmarks/chaos.py [--iterations 12] [--launches 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stack import Stack, start_server  # noqa: E402

VICTIMS = ("hub", "proxy", "server")


@dataclass
class Round:
    number: int
    victim: str
    kill_at: float = 0.0
    killed: bool = False
    launched_ok: int = 0
    launched_failed: int = 0
    recovered_after: float | None = None
    lost: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Chaos:
    def __init__(self, stack: Stack, args: argparse.Namespace) -> None:
        self.stack = stack
        self.args = args
        self.rng = random.Random(args.seed)
        #: Servers that should be running (launched ok, never stopped on purpose).
        self.expected: set[str] = set()
        self.errors: Counter[str] = Counter()
        self.rounds: list[Round] = []
        self._lock = threading.Lock()

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1

    # -- one round ----------------------------------------------------------------------

    def run_round(self, number: int) -> Round:
        victim = self.rng.choice(self.args.victims)
        result = Round(number, victim)
        users = [f"chaos-{number:02d}-{i}" for i in range(self.args.launches)]
        with ThreadPoolExecutor(len(users)) as pool, \
                httpx.Client(timeout=60, trust_env=False) as http:
            t0 = time.monotonic()
            launches: dict[str, Future[str]] = {
                u: pool.submit(self._create_and_start, http, u) for u in users}
            delay = self.rng.uniform(0, self.args.max_delay)
            time.sleep(delay)
            result.kill_at = time.monotonic() - t0
            kill_time = time.monotonic()
            result.killed = self._kill(victim, result)
            for user, launch in launches.items():
                outcome = launch.result()
                if outcome == "ok":
                    result.launched_ok += 1
                    self.expected.add(user)
                else:
                    result.launched_failed += 1
                    self.error(f"launch failed ({victim} killed): {outcome}")
        self._recover(result, kill_time)
        return result

    def _create_and_start(self, http: httpx.Client, user: str) -> str:
        try:
            http.post(f"{self.stack.api}/users/{user}", headers=self.stack.headers)
        except httpx.HTTPError as err:
            return f"create user: {type(err).__name__}"
        return start_server(self.stack, http, user, timeout=self.args.recover_timeout)

    def _kill(self, victim: str, result: Round) -> bool:
        s = self.stack
        if victim == "hub":
            s.refresh_proxy_pid()
            killed = s.kill9(s.hub.pid if s.hub else None)
            time.sleep(0.2)
            result.notes.append("its proxy " + ("lives on" if s.proxy_alive() else "died too"))
            return killed
        if victim == "proxy":
            return s.kill9(s.refresh_proxy_pid())
        pids = s.server_pids()
        if not pids:
            result.notes.append("no server process to kill yet")
            return False
        pid = self.rng.choice(pids)
        user = self._user_of(pid)
        if user is not None:
            # A server whose process died is not expected back until it is started again.
            self.expected.discard(user)
            result.notes.append(f"killed {user}'s server")
        return s.kill9(pid)

    def _user_of(self, pid: int) -> str | None:
        import psutil

        try:
            for arg in psutil.Process(pid).cmdline():
                if arg.startswith("--ServerApp.base_url=/user/"):
                    return arg.split("/")[2]
        except psutil.Error:
            return None
        return None

    # -- recovery -------------------------------------------------------------------------

    def _recover(self, result: Round, kill_time: float) -> None:
        s = self.stack
        if result.victim == "hub" and result.killed:
            try:
                s.hub.wait(5)  # type: ignore[union-attr]
                before = s.proxy_pid
                s.start_hub(timeout=self.args.recover_timeout)
                result.notes.append("restarted hub " + ("re-used the running proxy"
                                    if s.proxy_pid == before and s.proxy_alive()
                                    else "started a new proxy"))
            except Exception as err:  # noqa: BLE001 - reported, then repaired by hand
                self.error(f"hub restart failed: {str(err)[:160]}")
                result.notes.append("hub restart failed; operator kills the orphaned proxy")
                self._operator_restart(result)
        deadline = kill_time + self.args.recover_timeout
        failing = self._unreachable()
        while failing and time.monotonic() < deadline:
            time.sleep(0.25)
            failing = self._unreachable()
        if not failing:
            result.recovered_after = time.monotonic() - kill_time
        else:
            for why in failing.values():
                self.error(f"after {self.args.recover_timeout:.0f} s: {why}")
            result.notes.append(f"not recovered: {sorted(failing)}")
            if result.victim == "proxy":
                # Nothing brought the proxy back: the operator restarts the hub.
                result.notes.append("operator restarts the hub to get a proxy back")
                self._operator_restart(result)
                failing = self._unreachable()
            result.lost = sorted(failing)
            self.expected -= set(failing)
        self._check_leaks(result)

    def _operator_restart(self, result: Round) -> None:
        s = self.stack
        if s.hub is not None and s.hub.poll() is None:
            s.hub.terminate()
            s.hub.wait(30)
        s.kill9(s.proxy_pid)
        time.sleep(0.5)
        try:
            s.start_hub(timeout=self.args.recover_timeout)
        except Exception as err:  # noqa: BLE001 - the run cannot go on without a hub
            self.error(f"hub restart after cleanup failed: {str(err)[:160]}")
            raise

    def _unreachable(self) -> dict[str, str]:
        """Expected servers that do not answer through the proxy, with what a user would see."""
        failing: dict[str, str] = {}
        with httpx.Client(timeout=5, trust_env=False, headers=self.stack.headers) as http:
            for user in sorted(self.expected):
                try:
                    answer = http.get(f"{self.stack.url}/user/{user}/api/status")
                    if answer.status_code != 200 or "started" not in answer.text:
                        failing[user] = f"through the proxy: HTTP {answer.status_code}"
                except httpx.HTTPError as err:
                    failing[user] = f"through the proxy: {type(err).__name__}"
        return failing

    def _check_leaks(self, result: Round) -> None:
        """Server processes alive that the hub does not list as running (orphans)."""
        try:
            users = httpx.get(f"{self.stack.api}/users", headers=self.stack.headers,
                              timeout=10, trust_env=False).json()
        except (httpx.HTTPError, ValueError):
            self.error("hub API unreachable after recovery")
            return
        listed = {u["name"] for u in users if u.get("servers")}
        alive = {self._user_of(pid) for pid in self.stack.server_pids()}
        leaked = sorted(u for u in alive if u is not None and u not in listed)
        if leaked:
            result.notes.append(f"leaked server processes: {leaked}")
            self.error("server process left running that the hub does not list")
        stale = sorted(u for u in listed if u not in alive and u in self.expected)
        for user in stale:
            self.error("hub lists a server whose process is gone")
            result.notes.append(f"hub still lists {user}'s dead server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--launches", type=int, default=3, help="servers launched per round")
    parser.add_argument("--max-delay", type=float, default=1.5,
                        help="kill at a random moment up to this many s into the launches")
    parser.add_argument("--recover-timeout", type=float, default=30.0)
    parser.add_argument("--victims", type=lambda v: v.split(","), default=list(VICTIMS),
                        help="comma-separated: hub,proxy,server")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", choices=["lite", "jupyter"], default="lite")
    parser.add_argument("--proxy", choices=["builtin", "nginx"], default="builtin")
    parser.add_argument("--keep", action="store_true", help="keep the state directory (logs)")
    args = parser.parse_args()
    unknown = set(args.victims) - set(VICTIMS)
    if unknown:
        parser.error(f"unknown victims {sorted(unknown)}; choose from {', '.join(VICTIMS)}")

    stack = Stack(server=args.server, proxy=args.proxy)
    chaos = Chaos(stack, args)
    print(f"chaos: {args.iterations} rounds x {args.launches} launches; victims "
          f"{','.join(args.victims)}; servers: {stack.describe_servers()}; proxy: {args.proxy}; "
          f"seed {args.seed}; state in {stack.dir}")
    t0 = time.monotonic()
    try:
        stack.start_hub()
        for number in range(1, args.iterations + 1):
            try:
                result = chaos.run_round(number)
            except Exception as err:  # noqa: BLE001 - the run stops; what happened is printed
                print(f"round {number}: the run cannot continue: {err}")
                break
            chaos.rounds.append(result)
            recovered = ("-" if result.recovered_after is None
                         else f"{result.recovered_after:5.1f} s")
            print(f"round {number:2d}: kill -9 {result.victim:6s} at {result.kill_at:4.1f} s"
                  f"{'' if result.killed else ' (nothing to kill)'}; launches ok "
                  f"{result.launched_ok}/{result.launched_ok + result.launched_failed}; "
                  f"recovered {recovered}; lost {len(result.lost)}"
                  + (f"; {'; '.join(result.notes)}" if result.notes else ""))
    finally:
        stack.stop()
        if not args.keep:
            stack.remove_files()

    rounds = chaos.rounds
    lost = sum(len(r.lost) for r in rounds)
    times = [r.recovered_after for r in rounds if r.recovered_after is not None]
    print(f"\nrounds: {len(rounds)} in {time.monotonic() - t0:.0f} s; "
          f"lost servers: {lost} (target 0)")
    for victim in VICTIMS:
        mine = [r for r in rounds if r.victim == victim]
        if mine:
            rec = [r.recovered_after for r in mine if r.recovered_after is not None]
            print(f"  {victim:6s}: {len(mine)} rounds, recovered {len(rec)}/{len(mine)}"
                  + (f", median {statistics.median(rec):.1f} s, max {max(rec):.1f} s" if rec else "")
                  + f", lost {sum(len(r.lost) for r in mine)}")
    if times:
        print(f"time to recover: median {statistics.median(times):.1f} s, max {max(times):.1f} s")
    print(f"user-visible errors: {sum(chaos.errors.values())}"
          + "".join(f"\n  {n:4d}  {kind}" for kind, n in chaos.errors.most_common()))


if __name__ == "__main__":
    main()
