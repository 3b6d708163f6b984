#!/bin/bash
# The CPU seconds a local PostgreSQL cluster spends while a command runs (issue 8, s41): server-cpu.sh PORT CMD [ARGS...]
# Sums user + system time of the postmaster, of its children that ended (cutime/cstime) and of its live children, before
# and after; other processes' load does not count. The cluster must run on this machine (its data directory readable).
# Example: server-cpu.sh 55441 dotnet benchmarks/Campaigns.Benchmarks/bin/Release/net10.0/Campaigns.Benchmarks.dll import-stats 1000000 postgresql
set -euo pipefail
PORT=${1:?port}; shift
DATA=$(psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -Atc "SHOW data_directory")
cpu() {
  local pm total c
  pm=$(head -1 "$DATA/postmaster.pid")
  total=$(awk '{print $14+$15+$16+$17}' "/proc/$pm/stat")
  for c in $(cat /proc/"$pm"/task/*/children); do
    total=$((total + $(awk '{print $14+$15+$16+$17}' "/proc/$c/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
before=$(cpu); load0=$(cut -d' ' -f1-3 /proc/loadavg)
"$@"
# The command's backends end as it exits: wait until the postmaster has reaped them (their CPU then counts in its
# cutime/cstime). Read while one is being reaped, a backend's CPU could be in neither sum: s51 saw 0.7-11.5 s instead
# of ~16 s in about one run of eight.
for _ in $(seq 50); do
  [ -z "$(psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -Atc "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() LIMIT 1")" ] && break
  sleep 0.1
done
sleep 0.5
after=$(cpu)
echo "server-cpu=$(echo "scale=2; ($after - $before) / $(getconf CLK_TCK)" | bc)s load=[$load0] -> [$(cut -d' ' -f1-3 /proc/loadavg)]"
