import json, sys, re, collections
path = sys.argv[1]
fails = collections.Counter(); total = collections.Counter()
for line in open(path):
    r = json.loads(line)
    a = r.get("answer") or {}
    if a.get("type") != "python_tests": continue
    tmpl = r["meta"]["template"]; total[tmpl] += 1
    code = re.search(r"```python\n(.*?)\n```", r["output"], re.S).group(1)
    ns = {}
    try:
        exec(code, ns)
        for t in a["tests"]:
            exec(t, ns)
        # the instruction's examples
    except Exception as e:
        fails[tmpl] += 1
        if fails[tmpl] <= 2: print("FAIL", tmpl, repr(e), "\n", code, "\n", a["tests"])
print(sum(total.values()), "coding tasks;", sum(fails.values()), "failures")
print(dict(total))
