#!/usr/bin/env python3
"""Checks ops/monitoring against the metrics a live Herald node exports.

Usage: check_monitoring.py CHECK METRICS_FILE [MONITORING_DIR]

METRICS_FILE is a node's /metrics text. CHECK is one of
  families    the text declares every family core/metrics.cpp registers
              (prometheus-cpp leaves out a family without samples)
  dashboard   grafana/herald.json is a well-formed dashboard
  known       every metric a panel, variable or alert names is exported
  covered     every exported family appears in at least one panel
Prints what is wrong and exits 1, or prints a summary and exits 0.
"""

import json
import re
import sys
from pathlib import Path

import yaml

# The scrape's own series, not exported by Herald.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "bool", "offset", "inf", "nan", "atan2",
}


def exported_families(text):
    """{family: type} from the # TYPE lines (a family without samples still
    has them in prometheus-cpp's output)."""
    families = {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)$", line)
        if m:
            families[m.group(1)] = m.group(2)
    return families


def registered_families(source):
    """The family names core/metrics.cpp registers: .Name("...") of the
    registry's builders and add("...") of the process collector."""
    return set(re.findall(r'(?:\.Name|\badd)\(\s*"([a-z_:][a-z0-9_:]*)"', source))


def series_names(families):
    """Every series name the families produce, mapped to its family."""
    names = {}
    for family, kind in families.items():
        names[family] = family
        if kind in ("histogram", "summary"):
            for suffix in ("_bucket", "_sum", "_count"):
                names[family + suffix] = family
    return names


def metric_names(expr):
    """The metric names in a PromQL expression (or a Grafana label_values()
    query): identifiers outside strings, label matchers, grouping clauses
    and ranges that are not functions or keywords."""
    expr = re.sub(r"\$\{?\w+\}?", " ", expr)  # Grafana variables
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"'(?:[^'\\]|\\.)*'", "''", expr)
    expr = re.sub(r"\{[^{}]*\}", " ", expr)
    expr = re.sub(r"\[[^\[\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)",
                  " ", expr)
    # label_values(metric, label): the label is not a metric.
    expr = re.sub(r"\blabel_values\s*\(([^,()]*),[^()]*\)", r" \1 ", expr)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in PROMQL_WORDS:
            continue
        names.add(name)
    return names


def panels_of(dashboard):
    for p in dashboard.get("panels", []):
        yield p
        for inner in p.get("panels", []):
            yield inner


def dashboard_exprs(dashboard):
    """(where, expr) of every panel target and query variable."""
    for p in panels_of(dashboard):
        for t in p.get("targets", []):
            yield "panel %r" % p.get("title"), t.get("expr", "")
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else q
            yield "variable %r" % v.get("name"), q


def alert_exprs(alerts):
    for group in alerts.get("groups", []):
        for rule in group.get("rules", []):
            yield "alert %r" % (rule.get("alert") or rule.get("record")), rule["expr"]


def check_dashboard(dashboard):
    problems = []
    if not isinstance(dashboard.get("schemaVersion"), int) \
            or dashboard["schemaVersion"] < 36:
        problems.append("schemaVersion is missing or below 36")
    for key in ("title", "uid", "panels", "templating"):
        if not dashboard.get(key):
            problems.append("the dashboard has no %s" % key)
    variables = {v.get("name"): v
                 for v in dashboard.get("templating", {}).get("list", [])}
    ds_var = variables.get("datasource", {})
    if ds_var.get("type") != "datasource" or ds_var.get("query") != "prometheus":
        problems.append("no Prometheus datasource variable 'datasource'")
    if variables.get("instance", {}).get("type") != "query":
        problems.append("no query variable 'instance'")
    ids = []
    for p in panels_of(dashboard):
        title = p.get("title") or "(untitled)"
        ids.append(p.get("id"))
        grid = p.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")):
            problems.append("panel %r has no complete gridPos" % title)
        elif grid["x"] + grid["w"] > 24:
            problems.append("panel %r is wider than the grid" % title)
        if p.get("type") == "row":
            continue
        ds = p.get("datasource")
        if not isinstance(ds, dict) or ds.get("uid") not in ("${datasource}",
                                                             "$datasource"):
            problems.append("panel %r does not use the datasource variable"
                            % title)
        targets = p.get("targets") or []
        if not targets:
            problems.append("panel %r has no targets" % title)
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            problems.append("panel %r repeats a refId" % title)
        for t in targets:
            if not t.get("expr", "").strip():
                problems.append("panel %r has a target without expr" % title)
            tds = t.get("datasource")
            if tds is not None and tds != ds:
                problems.append("panel %r has a target with another datasource"
                                % title)
    if None in ids:
        problems.append("a panel has no id")
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        problems.append("panel ids repeat: %s" % sorted(dupes))
    return problems, "%d panels, unique ids, datasource variable on each" % len(ids)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    check, metrics_file = sys.argv[1], Path(sys.argv[2])
    mon = Path(sys.argv[3]) if len(sys.argv) > 3 else \
        Path(__file__).resolve().parents[2] / "ops" / "monitoring"
    families = exported_families(metrics_file.read_text())
    names = series_names(families)
    dashboard = json.loads((mon / "grafana" / "herald.json").read_text())
    alerts = yaml.safe_load((mon / "alerts.yml").read_text())

    if check == "families":
        source = (mon.parents[1] / "core" / "metrics.cpp").read_text()
        registered = registered_families(source)
        problems = ["%s (core/metrics.cpp) is missing from the live /metrics: "
                    "it got no sample" % f
                    for f in sorted(registered - set(families))]
        if len(registered) < 20:
            problems.append("found only %d families in core/metrics.cpp"
                            % len(registered))
        summary = "%d families exported (%d registered by core/metrics.cpp, " \
            "the rest by prometheus-cpp's exposer): %s" % (
                len(families), len(registered), ", ".join(sorted(families)))
    elif check == "dashboard":
        problems, summary = check_dashboard(dashboard)
    elif check == "known":
        problems, used = [], set()
        exprs = list(dashboard_exprs(dashboard)) + list(alert_exprs(alerts))
        for where, expr in exprs:
            for name in metric_names(expr):
                used.add(name)
                if name not in names and name not in SCRAPE_SERIES:
                    problems.append("%s uses %s, which Herald does not export"
                                    % (where, name))
        summary = "%d expressions name %d metrics, all exported" % (
            len(exprs), len(used))
    elif check == "covered":
        shown = set()
        for _, expr in dashboard_exprs(dashboard):
            shown |= {names[n] for n in metric_names(expr) if n in names}
        problems = ["family %s appears in no panel" % f
                    for f in sorted(set(families) - shown)]
        summary = "all %d families appear in panels" % len(families)
    else:
        print("unknown check %r" % check)
        return 2
    for p in problems:
        print("     " + p)
    if not problems:
        print("     " + summary)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
