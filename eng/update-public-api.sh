#!/usr/bin/env bash
# Brings src/*/PublicAPI.Unshipped.txt in line with the code: adds symbols reported by RS0016
# (public but undeclared) and removes those reported by RS0017 (declared but gone).
# Review the diff: every line is a change to the public surface.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for proj in "${@:-src/*/*.csproj}"; do
  for p in $proj; do
    dir=$(dirname "$p")
    for _ in 1 2 3; do
      out=$(dotnet build "$p" --no-restore -v q -clp:NoSummary 2>&1 || true)
      printf '%s' "$out" > "$tmp"
      python3 - "$dir" "$tmp" <<'PY'
import re, sys
d, out = sys.argv[1], open(sys.argv[2]).read()
add = set(re.findall(r"RS0016: Symbol '(.*?)' is not part of the declared public API", out))
rem = set(re.findall(r"RS0017: Symbol '(.*?)' is part of the declared API", out))
f = f"{d}/PublicAPI.Unshipped.txt"
lines = [l for l in open(f).read().splitlines() if l.strip() and not l.startswith('#nullable')]
lines = sorted((set(lines) | add) - rem)
open(f, "w").write("#nullable enable\n" + "".join(l + "\n" for l in lines))
if add or rem: print(f"{d}: +{len(add)} -{len(rem)}")
PY
      grep -qE 'RS001[67]' <<<"$out" || break
    done
  done
done
