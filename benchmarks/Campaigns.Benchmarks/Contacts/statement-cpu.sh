#!/bin/bash
# Backend CPU per statement kind while a command runs (issue 8, s47): statement-cpu.sh SERVER_LOG CMD [ARGS...]
# Appends "Options=-c log_statement_stats=on" to CAMPAIGNS_POSTGRES_CONNECTION (the benchmarks read it), runs the command,
# then sums, from the lines the server wrote to SERVER_LOG meanwhile (pgup.sh's cluster: the "log" file beside "data"),
# user + system CPU of each statement's backend (getrusage per statement, so other processes' load does not count),
# grouped: the two COPYs, the import's identity lookup (unnest ⋈ contact_identities ⋈ contacts) and the rest by text.
# Example: statement-cpu.sh /tmp/pg55454.XXXX/log dotnet benchmarks/Campaigns.Benchmarks/bin/Release/net10.0/Campaigns.Benchmarks.dll import-stats 300000 postgresql aes
set -euo pipefail
LOG=${1:?server log file}; shift
export CAMPAIGNS_POSTGRES_CONNECTION="${CAMPAIGNS_POSTGRES_CONNECTION:?set it};Options=-c log_statement_stats=on"
start=$(wc -l < "$LOG")
"$@"
tail -n +$((start + 1)) "$LOG" | python3 -c '
import sys, re, collections
tot = collections.defaultdict(lambda: [0.0, 0.0, 0, 0])
cur = None; got = False; u = s = 0.0; vol = 0
def add(key):
    a = tot[key]; a[0] += u; a[1] += s; a[2] += 1; a[3] += vol
for line in sys.stdin:
    m = re.search(r"LOG:  (\w[\w ]*) STATISTICS", line)
    if m:
        if cur: add(cur)
        cur = m.group(1).replace(" MESSAGE", ""); got = False; vol = 0; continue
    m = re.search(r"!\s+([\d.]+) s user, ([\d.]+) s system, [\d.]+ s elapsed", line)
    if m and cur and not got:
        u, s, got = float(m.group(1)), float(m.group(2)), True; continue
    m = re.search(r"!\s+(\d+)/\d+ \[\d+/\d+\] voluntary/involuntary", line)
    if m and cur:
        vol = int(m.group(1)); continue
    m = re.search(r"STATEMENT:  (.*)", line)
    if m and cur:
        st = m.group(1)
        if "COPY" in st and "contact_identities" in st: cur = "COPY contact_identities"
        elif "COPY" in st and "contacts" in st: cur = "COPY contacts"
        elif st.startswith("SELECT i.kind, i.lookup_key, c.id"): cur += " identity lookup"
        else: cur += " " + st[:40]
        add(cur); cur = None
if cur: add(cur)
print("backend CPU per statement kind (user + system, count, voluntary context switches):")
for k, (uu, ss, n, v) in sorted(tot.items(), key=lambda x: -(x[1][0] + x[1][1]))[:12]:
    print(f"  {uu + ss:8.2f} s  (user {uu:.2f}, sys {ss:.2f})  n={n:<6} vcsw={v:<7} {k}")
print(f"  {sum(a[0] + a[1] for a in tot.values()):8.2f} s  total")
'
