#!/usr/bin/env bash
# Checks the observability assets: the Prometheus rules (syntax and unit tests), the Grafana
# dashboard (JSON, PromQL syntax, datasource references) and that both use only metric names
# Portcullis exports (read from crates/portcullis/src/metrics.rs). Installs promtool (Debian
# package `prometheus`) when it is missing.
#
#   deploy/check-observability.sh
set -euo pipefail

cd "$(dirname "$0")/.."
RULES=deploy/prometheus/alerts.yml
TESTS=deploy/prometheus/alerts.test.yml
DASHBOARD=deploy/grafana/portcullis.json

METRICS_SRC=crates/portcullis/src/metrics.rs

# The metrics Portcullis exports (docs/observability.md#what-is-exported): every
# "portcullis_..." string literal in $METRICS_SRC, where each name is a constant, so the list
# cannot drift from the code.
mapfile -t METRICS < <(grep -ohE '"portcullis_[a-z_]+"' "$METRICS_SRC" | tr -d '"' | sort -u)
if [ "${#METRICS[@]}" -eq 0 ]; then
  printf 'FAIL: no "portcullis_..." name in %s: moved or renamed?\n' "$METRICS_SRC" >&2
  exit 1
fi
# Histograms also expose NAME_bucket, NAME_count and NAME_sum. They are taken to be the names
# ending in _seconds rather than listed by hand, so that they too follow the code: the only
# histogram is a duration, named in its unit as Prometheus's conventions ask, and no counter
# (_total) or gauge here ends so. The rule errs on the loud side: a histogram named otherwise
# has its _bucket reported UNKNOWN below; only a future gauge in seconds would let through
# three names that do not exist.
mapfile -t HISTOGRAMS < <(printf '%s\n' "${METRICS[@]}" | grep -E '_seconds$' || true)

step() { printf '\n== %s\n' "$*"; }
failed=0
fail() { printf 'FAIL: %s\n' "$*" >&2; failed=1; }

if ! command -v promtool >/dev/null 2>&1; then
  step "installing promtool (Debian package prometheus)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version 2>&1 | head -n 1

step "promtool check rules $RULES"
promtool check rules "$RULES" || fail "promtool check rules $RULES"

step "promtool test rules $TESTS"
promtool test rules "$TESTS" || fail "promtool test rules $TESTS"

step "dashboard parses as JSON: $DASHBOARD"
if python3 -m json.tool "$DASHBOARD" >/dev/null; then
  echo "  ok"
else
  fail "$DASHBOARD is not valid JSON"
fi

step "dashboard queries: PromQL syntax (through promtool), datasource references, unique panel ids"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if python3 - "$DASHBOARD" "$work/dashboard-rules.yml" <<'PY'
import json, sys

dashboard = json.load(open(sys.argv[1]))
problems, exprs, ids = [], [], set()

def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))

for p in panels(dashboard["panels"]):
    if p["id"] in ids:
        problems.append(f"panel id {p['id']} used twice")
    ids.add(p["id"])
    if p["type"] == "row":
        continue
    if p.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
        problems.append(f"panel {p['title']!r}: datasource is not ${{DS_PROMETHEUS}}")
    for t in p.get("targets", []):
        if t.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            problems.append(f"panel {p['title']!r} {t['refId']}: datasource is not ${{DS_PROMETHEUS}}")
        exprs.append((p["title"], t["refId"], t["expr"]))
names = [v["name"] for v in dashboard["templating"]["list"]]
for needed in ("DS_PROMETHEUS", "instance"):
    if needed not in names:
        problems.append(f"no template variable {needed}")
for v in dashboard["templating"]["list"]:
    q = v.get("query")
    if isinstance(q, dict):
        exprs.append((f"variable {v['name']}", "query", q["query"]))

# Dashboard variables replaced by what they stand for, each expression a recording rule.
subst = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
         "$job": "portcullis", "$instance": ".*", "$route": ".*"}
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, ref, expr) in enumerate(exprs):
        if expr.startswith("label_values("):  # label_values(SELECTOR, label): check SELECTOR
            expr = expr[len("label_values("):-1].rsplit(",", 1)[0]
        for k in sorted(subst, key=len, reverse=True):
            expr = expr.replace(k, subst[k])
        out.write(f"      - record: dashboard:q{i}\n        expr: {json.dumps(expr)}\n")
print(f"  {len(exprs)} queries in {len(ids)} panels")
for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
then
  if promtool check rules "$work/dashboard-rules.yml" >"$work/promtool.out" 2>&1; then
    echo "  every query parses"
  else
    cat "$work/promtool.out" >&2
    fail "a dashboard query does not parse"
  fi
else
  fail "dashboard structure"
fi

step "metric names in $DASHBOARD and $RULES are exported by Portcullis"
echo "  ${#METRICS[@]} names in $METRICS_SRC, histograms: ${HISTOGRAMS[*]:-none}"
allowed=" ${METRICS[*]} "
for h in "${HISTOGRAMS[@]}"; do allowed+="${h}_bucket ${h}_count ${h}_sum "; done
used=$(grep -ohE 'portcullis_[a-z_]+' "$DASHBOARD" "$RULES" | sort -u || true)
[ -n "$used" ] || fail "no portcullis_ metric found: wrong files?"
for name in $used; do
  if [[ "$allowed" == *" $name "* ]]; then
    echo "  ok      $name"
  else
    echo "  UNKNOWN $name"
    fail "unknown metric $name"
  fi
done

echo
if [ "$failed" -ne 0 ]; then
  echo "observability checks FAILED" >&2
  exit 1
fi
echo "observability checks passed"
