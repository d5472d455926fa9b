#!/usr/bin/env python3
"""The client half of bench/portal_bench.sh (see bench/README.md).

  senders   prints SQL that fills bench.senders with N sender numbers, their
            keyed hash (HMAC-SHA-256 under the node's pepper, as the
            validator computes it) and their masked form.
  run       logs in through the portal's form (CSRF cookie + field) and times
            the scenarios of a TSV file over one keep-alive HTTPS connection,
            one request at a time, interleaved in rounds; prints a table.
  merge     one table from the --json files of several runs.
  explain   logs in, makes one request per scenario and prints ANALYZE of
            the SQL it ran (from MariaDB's general log file).

Only the standard library: http.client over ssl, time.perf_counter.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import re
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse


# -- senders -----------------------------------------------------------------


def sender_number(n):
    """The n-th bench sender: a German mobile number, 13 digits."""
    return "+49151%07d" % n


def mask(number):
    # persistence::mask_e164 for +49: country code, ****, the last two.
    return number[:3] + "****" + number[-2:]


def cmd_senders(args):
    with open(args.pepper_file, "rb") as f:
        pepper = f.read().rstrip(b"\r\n")
    print("CREATE TABLE bench.senders (n INT UNSIGNED NOT NULL PRIMARY KEY, "
          "number VARCHAR(16) NOT NULL, hash BINARY(32) NOT NULL, "
          "masked VARCHAR(20) NOT NULL) ENGINE=InnoDB;")
    chunk = []
    for n in range(args.count):
        number = sender_number(n)
        digest = hmac.new(pepper, number.encode(), hashlib.sha256).hexdigest()
        chunk.append("(%d,'%s',UNHEX('%s'),'%s')" % (n, number, digest,
                                                      mask(number)))
        if len(chunk) == 2000 or n == args.count - 1:
            print("INSERT INTO bench.senders VALUES " + ",".join(chunk) + ";")
            chunk = []


# -- run ---------------------------------------------------------------------


class Portal:
    """One keep-alive HTTPS connection with a cookie jar of one session."""

    def __init__(self, host, port, cafile, timeout):
        ctx = ssl.create_default_context(cafile=cafile)
        self.host, self.port, self.ctx, self.timeout = host, port, ctx, timeout
        self.cookies = {}
        self.conn = None
        self.reconnects = 0

    def _connect(self):
        self.conn = http.client.HTTPSConnection(
            self.host, self.port, context=self.ctx, timeout=self.timeout)
        self.conn.connect()

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body, seconds): the time runs from the request
        to the last byte of the answer, on an open connection (a reconnect
        is made outside the measured time and counted)."""
        if self.conn is None:
            self._connect()
            self.reconnects += 1
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        start = time.perf_counter()
        self.conn.request(method, path, body=body, headers=h)
        resp = self.conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - start
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                if val:
                    self.cookies[key] = val
                else:
                    self.cookies.pop(key, None)
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, resp, data, elapsed

    def login(self, user, password):
        status, _, body, _ = self.request("GET", "/login")
        m = re.search(rb'name="csrf" value="([0-9a-f]+)"', body)
        if status != 200 or not m:
            sys.exit("the login page has no CSRF field (status %d)" % status)
        form = urllib.parse.urlencode({"csrf": m.group(1).decode(),
                                       "username": user,
                                       "password": password})
        status, resp, _, _ = self.request(
            "POST", "/login", body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        if status != 303 or resp.getheader("Location") != "/messages":
            sys.exit("login as %s failed: HTTP %d" % (user, status))
        if "__Host-herald_session" not in self.cookies:
            sys.exit("login as %s set no session cookie" % user)


NEXT = re.compile(rb'id="next-page" href="/messages\?([^"]*)"')
ROW = re.compile(rb'<a href="/messages/[0-9a-f-]{36}">')


def rows_of(path, body):
    if path.startswith("/messages.csv"):
        return body.count(b"\r\n") - 1
    if path.startswith("/messages?") or path == "/messages":
        return len(ROW.findall(body))
    return 1


class Scenario:
    """name, kind and argument from the TSV file:
    get PATH           the same page each time
    each PATH PATH...  the pages in turn (e.g. message details)
    walk PATH PAGES    PATH, then its "Older messages" link, PAGES pages deep,
                       then from PATH again; every page is timed."""

    def __init__(self, line):
        fields = line.rstrip("\n").split("\t")
        self.name, self.kind, self.args = fields[0], fields[1], fields[2:]
        if self.kind not in ("get", "each", "walk"):
            sys.exit("unknown scenario kind %r" % self.kind)
        self.times, self.rows, self.bytes, self.errors = [], [], [], []
        self.step = 0
        self.next_path = None

    def next_request(self):
        if self.kind == "get":
            return self.args[0]
        if self.kind == "each":
            path = self.args[self.step % len(self.args)]
            self.step += 1
            return path
        pages = int(self.args[1])
        if self.step % pages == 0 or self.next_path is None:
            self.step = 0
            self.next_path = self.args[0]
        self.step += 1
        return self.next_path

    def answered(self, body):
        if self.kind == "walk":
            m = NEXT.search(body)
            self.next_path = ("/messages?" + m.group(1).decode().replace(
                "&amp;", "&")) if m else None


def percentile(sorted_values, p):
    """Nearest rank, as herald_loadgen reports them."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def sql_run(mysql_cmd, statements):
    out = subprocess.run(mysql_cmd, input=statements, capture_output=True,
                         check=False)
    if out.returncode != 0:
        return "(failed: %s)" % out.stderr.decode(errors="replace").strip()
    return out.stdout.decode(errors="replace")


def explain(portal, scenario, mysql_cmd, general_log):
    """One request of `scenario` (the last page of a walk), then ANALYZE of
    every SELECT on messages that MariaDB's general log (a file: a table
    would convert the raw bytes of hashes and ids to text) shows for it.
    The node must have prepared its statements with the general log on:
    only then does MariaDB log their executions with the parameters."""
    if scenario.kind == "walk":
        for _ in range(int(scenario.args[1]) - 1):
            _, _, body, _ = portal.request("GET", scenario.next_request())
            scenario.answered(body)
    with open(general_log, "rb") as f:
        f.seek(0, 2)
        start_at = f.tell()
    path = scenario.next_request()
    status, _, body, elapsed = portal.request("GET", path)
    scenario.answered(body)
    time.sleep(0.2)
    with open(general_log, "rb") as f:
        f.seek(start_at)
        logged = f.read()
    print("-- %s: GET %s -> %d, %.1f ms" % (scenario.name, path[:110], status,
                                           elapsed * 1000))
    # Each entry is one line (MariaDB escapes line breaks inside literals):
    # [time]<TAB><TAB>thread Execute<TAB>statement.
    for line in logged.split(b"\n"):
        command, _, stmt = line.partition(b" Execute\t")
        if not stmt or b"FROM messages" not in stmt:
            continue
        if not stmt.lstrip().upper().startswith((b"SELECT", b"(SELECT")):
            continue
        start = time.perf_counter()
        plan = sql_run(mysql_cmd + ["-t"], b"ANALYZE " + stmt + b";")
        print("   ANALYZE (%.1f ms):" % ((time.perf_counter() - start) * 1000))
        for row in plan.splitlines():
            # id, select_type, table, type, possible_keys, key, key_len,
            # ref, rows, r_rows, filtered, r_filtered, Extra: all but
            # possible_keys, which is long.
            cells = row.split("|")
            if len(cells) > 6:
                del cells[5]
            print("   " + "|".join(cells))


def cmd_explain(args):
    scenarios = load_scenarios(args)
    portal = login(args)
    # binary: the logged statements carry raw bytes (hashes, ids) inside
    # their string literals.
    mysql_cmd = ["mariadb", "--no-defaults", "--socket=" + args.socket,
                 "--default-character-set=binary", "-uroot", "-N", "-B",
                 args.database]
    for s in scenarios:
        explain(portal, s, mysql_cmd, args.general_log)
    return 0


def load_scenarios(args):
    scenarios = []
    with open(args.scenarios) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                scenarios.append(Scenario(line))
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {s.name for s in scenarios}
        if unknown:
            sys.exit("no such scenario: %s" % ", ".join(sorted(unknown)))
        scenarios = [s for s in scenarios if s.name in wanted]
    return scenarios


def login(args):
    with open(args.password_file) as f:
        password = f.read().strip()
    url = urllib.parse.urlsplit(args.url)
    portal = Portal(url.hostname, url.port, args.ca, args.timeout)
    portal.login(args.user, password)
    return portal


def print_table(results, target_ms):
    """Prints one line per scenario of `results` (name, times in ms, rows,
    errors) and returns them with their percentiles added."""
    header = ("scenario", "n", "rows", "p50", "p95", "p99", "max",
              "p95<=%g ms" % target_ms)
    print("%-34s %5s %6s %8s %8s %8s %8s  %s" % header)
    for r in results:
        t = sorted(r["times"])
        r["n"] = len(t)
        r["p50"], r["p95"], r["p99"] = (percentile(t, p) for p in (50, 95, 99))
        r["max"] = t[-1] if t else float("nan")
        r["ok"] = bool(t) and not r["errors"] and r["p95"] <= target_ms
        print("%-34s %5d %6g %8.1f %8.1f %8.1f %8.1f  %s%s" % (
            r["scenario"], r["n"], r["rows"], r["p50"], r["p95"], r["p99"],
            r["max"], "yes" if r["ok"] else "NO",
            "" if not r["errors"] else " (%d errors)" % r["errors"]))
    return results


def cmd_merge(args):
    """One table from the --json files of several runs (e.g. the rounds of
    one build in a comparison): their times pooled per scenario."""
    merged = {}
    for name in args.files:
        with open(name) as f:
            for r in json.load(f):
                m = merged.setdefault(r["scenario"], {
                    "scenario": r["scenario"], "times": [], "rows": r["rows"],
                    "errors": 0})
                m["times"] += r["times"]
                m["errors"] += r["errors"]
    results = print_table(list(merged.values()), args.target_ms)
    return 0 if all(r["ok"] for r in results) else 1


def cmd_run(args):
    scenarios = load_scenarios(args)
    portal = login(args)
    per_round = -(-args.requests // args.rounds)
    print("# %d scenarios, %d requests each after %d warm-up, in %d "
          "interleaved rounds; one keep-alive connection, one request at a "
          "time" % (len(scenarios), per_round * args.rounds, args.warmup,
                    args.rounds), file=sys.stderr)
    for s in scenarios:
        for _ in range(args.warmup):
            path = s.next_request()
            status, _, body, _ = portal.request("GET", path)
            s.answered(body)
            if status != 200:
                sys.exit("%s: GET %s answered %d" % (s.name, path, status))
    for r in range(args.rounds):
        for s in scenarios:
            for _ in range(per_round):
                path = s.next_request()
                status, _, body, elapsed = portal.request("GET", path)
                s.answered(body)
                if status != 200:
                    s.errors.append(status)
                    continue
                s.times.append(elapsed * 1000.0)
                s.rows.append(rows_of(path, body))
                s.bytes.append(len(body))
        print("# round %d of %d done" % (r + 1, args.rounds), file=sys.stderr)
    results = [{"scenario": s.name, "times": s.times,
                "rows": statistics.median(s.rows) if s.rows else 0,
                "bytes": statistics.median(s.bytes) if s.bytes else 0,
                "errors": len(s.errors)} for s in scenarios]
    results = print_table(results, args.target_ms)
    if portal.reconnects > 1:
        print("# the portal closed the connection %d times (reconnects are "
              "not timed)" % (portal.reconnects - 1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if all(r["ok"] for r in results) else 1


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("senders")
    s.add_argument("--pepper-file", required=True)
    s.add_argument("--count", type=int, default=50000)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", required=True)
    common.add_argument("--ca", required=True)
    common.add_argument("--user", required=True)
    common.add_argument("--password-file", required=True)
    common.add_argument("--scenarios", required=True, help="TSV, see Scenario")
    common.add_argument("--only", help="comma-separated scenario names")
    common.add_argument("--timeout", type=float, default=30)
    r = sub.add_parser("run", parents=[common])
    r.add_argument("--requests", type=int, default=200)
    r.add_argument("--warmup", type=int, default=20)
    r.add_argument("--rounds", type=int, default=4)
    r.add_argument("--target-ms", type=float, default=100)
    r.add_argument("--json", help="write the results here too")
    m = sub.add_parser("merge")
    m.add_argument("files", nargs="+")
    m.add_argument("--target-ms", type=float, default=100)
    e = sub.add_parser("explain", parents=[common])
    e.add_argument("--socket", required=True, help="MariaDB's, as root")
    e.add_argument("--database", default="herald")
    e.add_argument("--general-log", required=True, help="MariaDB's, a file")
    args = p.parse_args()
    if args.command == "senders":
        cmd_senders(args)
        return 0
    if args.command == "explain":
        return cmd_explain(args)
    if args.command == "merge":
        return cmd_merge(args)
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
