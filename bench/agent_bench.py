#!/usr/bin/env python3
"""Agent benchmark: idle cost beside Debian cron, fire lateness, reload latency.

Run through bench/agent.sh (it builds the agent and installs cron). Each phase starts its own
agent on a fresh state directory under a temporary directory and stops it (SIGTERM) afterwards.
Prints a table of medians and writes the raw figures as JSON (--json).
"""

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
CRON_FILE = "/etc/cron.d/troubleshoot-agent-bench"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)")

JOB = """apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleSchedule
metadata:
  name: {name}
spec:
  schedule: "{schedule}"
  collect:
    supportBundle:
      hostCollectors:
        - memory: {{}}
"""


# ---------------------------------------------------------------------------------------------
# helpers


def parse_ts(text):
    """RFC 3339 (as the agent writes it: Z, up to nanoseconds) to epoch seconds."""
    text = text.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        frac = (frac + "000000")[:6]
        text = head + "." + frac
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, method="GET", timeout=120):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_unix(sock_path, path, method="POST", timeout=600):
    """One request on the agent's control socket (trigger and reload are served only there)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def descendants(pid):
    """pid and every process below it."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


RSS_FIELDS = ("VmRSS", "RssAnon", "RssFile", "RssShmem")


def rss_parts(pid):
    """VmRSS and its parts (RssAnon: heap and stacks; RssFile: mapped files such as the binary's
    own pages; RssShmem) in KiB, summed over pid and its children."""
    total = dict.fromkeys(RSS_FIELDS, 0)
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key in total:
                        total[key] += int(line.split()[1])
        except OSError:
            pass
    return total


def rss_kib(pid):
    return rss_parts(pid)["VmRSS"]


def sample_rss(pids, seconds):
    """Samples rss_parts of each pid once a second; the median of each field."""
    samples = {k: [] for k in pids}
    start = time.time()
    while time.time() - start < seconds:
        for k, p in pids.items():
            samples[k].append(rss_parts(p))
        time.sleep(1)
    return {k: {f: statistics.median(s[f] for s in v) for f in RSS_FIELDS}
            for k, v in samples.items()}


def cpu_ticks(pid):
    """utime+stime of pid and its live children, plus what reaped children used (cutime+cstime)."""
    total = 0
    for i, p in enumerate(descendants(pid)):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is state (field 3): utime is field 14, stime 15, cutime 16, cstime 17.
        total += int(fields[11]) + int(fields[12])
        if i == 0:
            total += int(fields[13]) + int(fields[14])
    return total


class Agent:
    """One agent process on a fresh state directory."""

    def __init__(self, binary, root, jobs_dir, settings=None, clock_offset_ms=0, verbose=1):
        self.root = root
        self.state = os.path.join(root, "state")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.socket = os.path.join(self.state, "agent.sock")
        self.log_path = os.path.join(root, "agent.log")
        os.makedirs(root, exist_ok=True)
        config = os.path.join(root, "agent.yaml")
        with open(config, "w") as f:
            for k, v in (settings or {}).items():
                f.write(f"{k}: {v}\n")
        cmd = [binary, "--config", config, "--jobs-dir", jobs_dir, "--state-dir", self.state,
               "--listen", f"127.0.0.1:{self.port}", "-" + "v" * verbose, "run"]
        if clock_offset_ms:
            cmd.append(f"--clock-offset-ms={clock_offset_ms}")
        env = dict(os.environ, NO_COLOR="1")
        env.pop("TROUBLESHOOT_AGENT_LOG", None)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, env=env)

    def wait_ready(self, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"agent exited ({self.proc.returncode}); see {self.log_path}")
            try:
                code, _ = http(self.base + "/readyz", timeout=5)
                if code == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"agent not ready after {timeout}s; see {self.log_path}")

    def status(self):
        return json.loads(http(self.base + "/api/v1/status")[1])

    def log_lines(self):
        with open(self.log_path, errors="replace") as f:
            return [ANSI.sub("", line) for line in f]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def write_jobs(jobs_dir, schedules):
    os.makedirs(jobs_dir, exist_ok=True)
    for i, sched in enumerate(schedules):
        name = f"job-{i:05d}"
        with open(os.path.join(jobs_dir, name + ".yaml"), "w") as f:
            f.write(JOB.format(name=name, schedule=sched))


def quiet_schedules(n, rng, now):
    """n varied cron schedules whose hours avoid the next two hours, so nothing fires meanwhile."""
    busy = {(now.hour + d) % 24 for d in range(3)}
    hours = [h for h in range(24) if h not in busy]
    out = []
    for i in range(n):
        m, h, h2 = rng.randrange(60), rng.choice(hours), rng.choice(hours)
        form = i % 6
        if form == 0:
            out.append(f"{m} {h} * * *")
        elif form == 1:
            out.append(f"{m} {h} * * 1-5")
        elif form == 2:
            out.append(f"{m} {h} 1,15 * *")
        elif form == 3:
            out.append(f"*/20 {h} * * 0,6")
        elif form == 4:
            out.append(f"{m} {min(h, h2)},{max(h, h2)} * * *" if h != h2 else f"{m} {h} * * *")
        else:
            out.append(f"{m} {h} * {rng.randrange(1, 13)} *")
    return out


# ---------------------------------------------------------------------------------------------
# 1. idle


def idle(binary, work, n, window, rng):
    now = dt.datetime.now(dt.timezone.utc)
    schedules = quiet_schedules(n, rng, now)
    jobs_dir = os.path.join(work, "idle-jobs")
    write_jobs(jobs_dir, schedules)

    # cron: the same schedules in /etc/cron.d, plus a last line that fires once at the next minute
    # at least 20 s away; as cron stops reading a crontab at its first bad line, that sentinel
    # firing shows that cron loaded all the lines before it.
    sentinel = os.path.join(work, "cron-sentinel")
    at = (now + dt.timedelta(seconds=80)).replace(second=0, microsecond=0)
    with open(CRON_FILE, "w") as f:
        f.write("SHELL=/bin/sh\nPATH=/usr/bin:/bin\n")
        for s in schedules:
            f.write(f"{s} root true\n")
        f.write(f"{at.minute} {at.hour} * * * root touch {sentinel}\n")
    os.chmod(CRON_FILE, 0o644)
    cron = subprocess.Popen(["cron", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agent = Agent(binary, os.path.join(work, "idle-agent"), jobs_dir,
                  settings={"rescanInterval": "1h"}, verbose=1)
    try:
        t0 = time.time()
        agent.wait_ready()
        ready_s = time.time() - t0
        jobs = agent.status()["jobs"]
        if len(jobs) != n:
            raise SystemExit(f"agent loaded {len(jobs)} jobs, expected {n}")
        print(f"idle: agent ready with {len(jobs)} jobs in {ready_s:.2f}s; waiting for cron's "
              f"sentinel at {at:%H:%M}Z", flush=True)
        while not os.path.exists(sentinel):
            if cron.poll() is not None:
                raise SystemExit("cron exited")
            if time.time() > at.timestamp() + 90:
                raise SystemExit("cron's sentinel never fired: cron did not load the crontab")
            time.sleep(0.5)
        time.sleep(3)  # let cron's child that ran the sentinel exit
        print(f"idle: cron loaded its {n} lines; sampling both for {window}s", flush=True)
        procs = {"agent": agent.proc.pid, "cron": cron.pid}
        cpu0 = {k: cpu_ticks(p) for k, p in procs.items()}
        rss = {k: [] for k in procs}
        parts = {k: [] for k in procs}
        start = time.time()
        while time.time() - start < window:
            for k, p in procs.items():
                sample = rss_parts(p)
                parts[k].append(sample)
                rss[k].append(sample["VmRSS"])
            time.sleep(1)
        elapsed = time.time() - start
        cpu1 = {k: cpu_ticks(p) for k, p in procs.items()}
        fired = sum(1 for line in agent.log_lines() if "run started" in line)
        out = {}
        for k in procs:
            out[k] = {
                "rss_kib_median": statistics.median(rss[k]),
                "rss_kib_max": max(rss[k]),
                "cpu_s": (cpu1[k] - cpu0[k]) / CLK_TCK,
                "cpu_pct": 100.0 * (cpu1[k] - cpu0[k]) / CLK_TCK / elapsed,
                "rss_parts_kib": {f: statistics.median(x[f] for x in parts[k])
                                  for f in RSS_FIELDS},
            }
        out["window_s"] = elapsed
        out["agent_ready_s"] = ready_s
        out["agent_runs_started"] = fired
        return out
    finally:
        agent.stop()
        cron.terminate()
        cron.wait()
        os.unlink(CRON_FILE)


def empty(binary, work, seconds=10):
    """The agent's own footprint: no jobs at all."""
    jobs_dir = os.path.join(work, "empty-jobs")
    os.makedirs(jobs_dir, exist_ok=True)
    agent = Agent(binary, os.path.join(work, "empty-agent"), jobs_dir,
                  settings={"rescanInterval": "1h"}, verbose=1)
    try:
        agent.wait_ready()
        time.sleep(2)
        return sample_rss({"agent": agent.proc.pid}, seconds)["agent"]
    finally:
        agent.stop()


# ---------------------------------------------------------------------------------------------
# 2. fire lateness


def fire(binary, work, n, rep):
    jobs_dir = os.path.join(work, f"fire-jobs-{rep}")
    write_jobs(jobs_dir, ["* * * * *"] * n)
    # Put the agent's clock 7 s before a minute boundary (start-up with 1,000 jobs takes ~1 s),
    # so the fire comes about 5 s after the agent is ready.
    now = time.time()
    target = (int(now // 60) + 1) * 60 - 7
    offset_ms = int((target - now) * 1000)
    agent = Agent(binary, os.path.join(work, f"fire-agent-{rep}"), jobs_dir,
                  settings={"maxConcurrentRuns": n, "rescanInterval": "1h"},
                  clock_offset_ms=offset_ms, verbose=1)
    try:
        agent.wait_ready()
        ready_agent_time = time.time() + offset_ms / 1000
        slot = (int(ready_agent_time // 60) + 1) * 60
        # Wait for the slot, then for every run to have its record.
        runs_root = os.path.join(agent.state, "jobs")
        deadline = time.time() + (slot - ready_agent_time) + 300
        records = []
        while time.time() < deadline:
            time.sleep(1)
            if time.time() + offset_ms / 1000 < slot + 1:
                continue
            st = agent.status()
            busy = any(j["running"] for j in st["jobs"]) or st["queuedRuns"]
            if not busy:
                break
        for job in sorted(os.listdir(runs_root)) if os.path.isdir(runs_root) else []:
            d = os.path.join(runs_root, job, "runs")
            for name in os.listdir(d) if os.path.isdir(d) else []:
                if name.endswith(".json"):
                    with open(os.path.join(d, name)) as f:
                        records.append(json.load(f))
        # Only the slot under test: on a loaded machine runs can outlast the minute, and the
        # next minute's fires (skipped under Forbid, or queued) are not this measurement.
        later = [r for r in records if r.get("scheduledAt") and parse_ts(r["scheduledAt"]) != slot]
        records = [r for r in records if r.get("scheduledAt") and parse_ts(r["scheduledAt"]) == slot]
        lateness = [(parse_ts(r["startedAt"]) - parse_ts(r["scheduledAt"])) * 1000
                    for r in records]
        starts = [parse_ts(m.group(1)) for line in agent.log_lines()
                  if "run started" in line and (m := LOG_TS.match(line))]
        # The log spread covers the slot's runs: they are the first n lines.
        starts = sorted(starts)[:n]
        statuses = {}
        for r in records:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        if len(lateness) != n:
            print(f"fire: warning: {len(lateness)} records for {n} jobs", flush=True)
        return {
            "records": len(lateness),
            "records_of_later_slots": len(later),
            "statuses": statuses,
            "p50_ms": pct(lateness, 50),
            "p99_ms": pct(lateness, 99),
            "max_ms": max(lateness) if lateness else float("nan"),
            "min_ms": min(lateness) if lateness else float("nan"),
            "log_spread_ms": (max(starts) - min(starts)) * 1000 if starts else float("nan"),
            "log_lines": len(starts),
        }
    finally:
        agent.stop()


# ---------------------------------------------------------------------------------------------
# 3. reload latency


def reload_latency(binary, work, n, debounce_ms, reps, rng):
    now = dt.datetime.now(dt.timezone.utc)
    jobs_dir = os.path.join(work, f"reload-jobs-{debounce_ms}")
    schedules = quiet_schedules(n, rng, now)
    write_jobs(jobs_dir, schedules)
    settings = {"rescanInterval": "1h"}
    if debounce_ms != 500:
        settings["watchDebounce"] = f"{debounce_ms}ms"
    agent = Agent(binary, os.path.join(work, f"reload-agent-{debounce_ms}"), jobs_dir,
                  settings=settings, verbose=1)
    try:
        t0 = time.time()
        agent.wait_ready()
        ready_s = time.time() - t0
        # Warm-up: files written less than 2 s before a read are read again at the next reload
        # (coarse timestamps); in a real jobs directory they are older than that.
        time.sleep(2.5)
        http_unix(agent.socket, "/-/reload")
        latencies = []
        target = os.path.join(jobs_dir, "job-00042.yaml")
        for rep in range(reps):
            seen = sum(1 for line in agent.log_lines() if "reload:" in line)
            minute = (rep * 7 + 3) % 60
            text = JOB.format(name="job-00042", schedule=f"{minute} 4 * * 3")
            # Write beside and rename over, as config-management tools do.
            tmp = os.path.join(jobs_dir, ".job-00042.yaml.tmp")
            with open(tmp, "w") as f:
                f.write(text)
            written = time.time()
            os.rename(tmp, target)
            deadline = written + 30
            applied = None
            while time.time() < deadline and applied is None:
                time.sleep(0.002)
                lines = [line for line in agent.log_lines() if "reload:" in line]
                for line in lines[seen:]:
                    m = LOG_TS.match(line)
                    if m and "1 to change" in line:
                        applied = parse_ts(m.group(1))
                        break
                    seen += 1
            if applied is None:
                raise SystemExit(f"no reload applied the change; see {agent.log_path}")
            latencies.append((applied - written) * 1000)
            time.sleep(1.5)
        # The new schedule is what status shows.
        job = next(j for j in agent.status()["jobs"] if j["name"] == "job-00042")
        assert job["schedule"].endswith("4 * * 3"), job
        # One level-triggered reload of the whole directory (nothing changed).
        posts = []
        for _ in range(reps):
            t = time.time()
            code, _ = http_unix(agent.socket, "/-/reload")
            posts.append((time.time() - t) * 1000)
            if code != 200:
                raise SystemExit(f"POST /-/reload answered {code}")
        return {"debounce_ms": debounce_ms, "ready_s": ready_s, "latency_ms": latencies,
                "after_debounce_ms": [x - debounce_ms for x in latencies], "post_reload_ms": posts}
    finally:
        agent.stop()


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--jobs", type=int, default=10000)
    ap.add_argument("--fire-jobs", type=int, default=1000)
    ap.add_argument("--window", type=int, default=60)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--phases", default="idle,fire,reload")
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    phases = args.phases.split(",")
    rng = random.Random(42)
    work = tempfile.mkdtemp(prefix="agent-bench-")
    results = {}
    results["loadavg_start"] = os.getloadavg()
    try:
        if "idle" in phases:
            results["empty"] = empty(args.bin, work)
            print(f"empty: {json.dumps(results['empty'])}", flush=True)
        if "fire" in phases:
            results["fire"] = []
            for rep in range(args.reps):
                r = fire(args.bin, work, args.fire_jobs, rep)
                print(f"fire {rep + 1}: {json.dumps(r)}", flush=True)
                results["fire"].append(r)
        if "reload" in phases:
            results["reload"] = []
            for debounce in (500, 50):
                r = reload_latency(args.bin, work, args.jobs, debounce, args.reps, rng)
                print(f"reload: {json.dumps(r)}", flush=True)
                results["reload"].append(r)
        if "idle" in phases:
            results["idle"] = idle(args.bin, work, args.jobs, args.window, rng)
            print(f"idle: {json.dumps(results['idle'])}", flush=True)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["loadavg_end"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    report(results, args)


def report(results, args):
    med = statistics.median
    rows = []
    if "idle" in results:
        r = results["idle"]
        a, c = r["agent"], r["cron"]
        ratio = a["rss_kib_median"] / c["rss_kib_median"]
        rows.append((f"idle RSS, {args.jobs} jobs (KiB, median of {r['window_s']:.0f}s)",
                     f"{a['rss_kib_median']:.0f}", f"{c['rss_kib_median']:.0f}",
                     f"{ratio:.2f}x", "<= 2x cron", "met" if ratio <= 2 else "MISSED"))
        for f in RSS_FIELDS[1:]:
            ap_, cp_ = a["rss_parts_kib"][f], c["rss_parts_kib"][f]
            rows.append((f"  of which {f} (KiB)", f"{ap_:.0f}", f"{cp_:.0f}",
                         f"{ap_ / cp_:.2f}x" if cp_ else "-", "-", "-"))
        if "empty" in results:
            e = results["empty"]
            rows.append(("agent with no jobs: VmRSS / RssAnon / RssFile (KiB)",
                         f"{e['VmRSS']:.0f} / {e['RssAnon']:.0f} / {e['RssFile']:.0f}",
                         "-", "-", "-", "-"))
        rows.append((f"idle CPU over {r['window_s']:.0f}s (%)", f"{a['cpu_pct']:.3f}",
                     f"{c['cpu_pct']:.3f}", "-", "<= 0.1 %",
                     "met" if a["cpu_pct"] <= 0.1 else "MISSED"))
    if "fire" in results:
        f = results["fire"]
        p99 = med([x["p99_ms"] for x in f])
        rows.append((f"fire lateness p50, {args.fire_jobs} jobs same second (ms)",
                     f"{med([x['p50_ms'] for x in f]):.1f}", "-", "-", "-", "-"))
        rows.append(("fire lateness p99 (ms)", f"{p99:.1f}", "-", "-", "<= 20 ms",
                     "met" if p99 <= 20 else "MISSED"))
        rows.append(("fire lateness max (ms)", f"{med([x['max_ms'] for x in f]):.1f}",
                     "-", "-", "-", "-"))
        rows.append(("'run started' log spread (ms)",
                     f"{med([x['log_spread_ms'] for x in f]):.1f}", "-", "-", "-", "-"))
    for r in results.get("reload", []):
        after = med(r["after_debounce_ms"])
        rows.append((f"one-file change -> applied, debounce {r['debounce_ms']}ms, minus debounce (ms)",
                     f"{after:.1f}", "-", "-", "<= 100 ms", "met" if after <= 100 else "MISSED"))
        rows.append((f"POST /-/reload, {args.jobs} files, nothing changed (ms)",
                     f"{med(r['post_reload_ms']):.1f}", "-", "-", "-", "-"))
    print()
    print("load average at start / end: %s / %s" % (
        " ".join(f"{x:.1f}" for x in results["loadavg_start"]),
        " ".join(f"{x:.1f}" for x in results["loadavg_end"])))
    print("| what | agent (median) | cron | ratio | target | |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    sys.exit(main())
