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
after=$(cpu)
echo "server-cpu=$(echo "scale=2; ($after - $before) / $(getconf CLK_TCK)" | bc)s load=[$load0] -> [$(cut -d' ' -f1-3 /proc/loadavg)]"
