# Splits a `perf script -F tid,ip,sym,dso` dump of `journey-stats` into journey / store / pipeline shares (docs/benchmarks.md, issue 7, session 5).
# Usage: perf script -i perf.data -F tid,ip,sym,dso > perf.txt && python3 perf-split.py perf.txt
import sys,collections
samples=[];cur=None
for line in open(sys.argv[1]):
    if not line.strip():
        if cur: samples.append(cur)
        cur=None; continue
    if not line.startswith('\t'):
        cur={'frames':[]}
    elif cur is not None: cur['frames'].append(line.strip())
if cur: samples.append(cur)
cats=[('pipeline (DeliverAsync)','Campaigns.Delivery.'),('contact read','InMemoryContactStore'),('run store: claim','ClaimDueAsync'),('run store: read/write','InMemoryJourneyRunStore'),('enter (rest)','EnterAsync'),('step (rest of JourneyRunner)','JourneyRunner'),('runner glue','OnSegmentEntered')]
c=collections.Counter(); rt=collections.Counter()
for s in samples:
    fr=s['frames']
    if not any('JourneyRunner' in f for f in fr):
        c['~ not in runner (setup, probe, other threads)']+=1; continue
    cat='?'
    for f in fr:
        hit=next((n for n,p in cats if p in f),None)
        if hit: cat=hit;break
    c[cat]+=1
    if fr and ('libcoreclr' in fr[0] or 'kernel' in fr[0] or 'libc.so' in fr[0]): rt[cat]+=1
tot=sum(v for k,v in c.items() if not k.startswith('~'))
print('samples in runner', tot, 'all', sum(c.values()))
for k,v in c.most_common():
    if k.startswith('~'): continue
    print(f"{k:32s} {100*v/tot:5.1f}%   of which native leaf (GC, alloc, locks) {100*rt[k]/tot:5.1f}%")
print('native leaf total', f"{100*sum(rt.values())/tot:.1f}%")
