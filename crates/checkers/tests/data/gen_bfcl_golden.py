# requires: Python 3.11, bfcl_eval==2026.3.23 (the wheel unpacked; its runtime dependencies are
# not needed: the handful of imports below are stubbed), no network.
#
# Writes crates/checkers/tests/data/bfcl_golden.jsonl.gz: BFCL rows (function docs without
# descriptions, ground truth) plus synthetic model outputs (the ground truth rendered as Python
# calls, and perturbations of it), each with the verdict and error type that bfcl_eval's own
# `default_decode_ast_prompting` + `ast_checker` (or the relevance rule of `eval_runner.py`)
# gives. tests/bfcl_golden.rs checks that cogumi-checkers agrees on every case.
#
#   python crates/checkers/tests/data/gen_bfcl_golden.py /path/to/unpacked/bfcl_eval_wheel
import enum
import gzip
import json
import random
import re
import sys
import types
from pathlib import Path

WHEEL = Path(sys.argv[1])
OUT = Path(__file__).with_name("bfcl_golden.jsonl.gz")
ROWS_PER_CATEGORY = 80
CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple", "live_simple",
              "live_multiple", "live_parallel", "live_parallel_multiple", "irrelevance",
              "live_irrelevance"]

# --- bfcl_eval's checker and decoder, with heavy imports stubbed -------------------------------
sys.path.insert(0, str(WHEEL))
model_config = types.ModuleType("bfcl_eval.constants.model_config")


class _NoRename:
    underscore_to_dot = False


model_config.MODEL_CONFIG_MAPPING = type("M", (dict,), {"__getitem__": lambda s, k: _NoRename()})()
sys.modules["bfcl_eval.constants.model_config"] = model_config
from bfcl_eval.constants.enums import Language  # noqa: E402
from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker  # noqa: E402


class ReturnFormat(enum.Enum):
    PYTHON = "python"
    JAVA = "java"
    JAVASCRIPT = "javascript"
    VERBOSE_XML = "verbose_xml"
    CONCISE_XML = "concise_xml"
    JSON = "json"


# model_handler/utils.py imports every provider SDK; take the four decoder functions' source.
_utils = (WHEEL / "bfcl_eval/model_handler/utils.py").read_text()
_ns = {"ast": __import__("ast"), "re": re, "builtins": __import__("builtins"),
       "ReturnFormat": ReturnFormat}
for _name in ["ast_parse", "resolve_ast_call", "resolve_ast_by_type", "default_decode_ast_prompting"]:
    exec(re.search(rf"^def {_name}\(.*?(?=^def |\Z)", _utils, re.S | re.M).group(0), _ns)
decode = _ns["default_decode_ast_prompting"]


def is_function_calling_format(d):
    return type(d) == list and all(
        type(i) == dict and len(i) == 1 and type(list(i.values())[0]) == dict for i in d)


def bfcl_verdict(category, functions, ground_truth, output):
    """(valid, error_type) exactly as eval_runner.py would record it."""
    if "irrelevance" in category:
        try:
            d = decode(output)
            has_call = is_function_calling_format(d) and len(d) > 0 and not (len(d) == 1 and len(d[0]) == 0)
        except Exception:
            has_call = False
        return (not has_call, "irrelevance_error:decoder_success" if has_call else None)
    try:
        d = decode(output)
    except Exception:
        return (False, "ast_decoder:decoder_failed")
    if not is_function_calling_format(d):
        return (False, "ast_decoder:decoder_wrong_output_format")
    r = ast_checker(functions, d, ground_truth, Language.PYTHON, category, "model")
    return (bool(r["valid"]), None if r["valid"] else r["error_type"])


# --- synthetic outputs -------------------------------------------------------------------------
def pick(values, rng, omit_optional):
    """An acceptable value, or OMIT if "" allows leaving the parameter out."""
    concrete = [v for v in values if v != ""]
    if not concrete or ("" in values and omit_optional):
        return OMIT
    v = rng.choice(concrete)
    if isinstance(v, dict):  # a dict answer holds acceptable values per key
        out = {}
        for k, vs in v.items():
            x = pick(vs, rng, omit_optional)
            if x is not OMIT:
                out[k] = x
        return out
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        return [pick([x], rng, omit_optional) for x in v]
    return v


OMIT = object()


def render(calls):
    parts = []
    for name, args in calls:
        parts.append(f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")")
    return "[" + ", ".join(parts) + "]"


def gold(ground_truth, rng, omit_optional):
    calls = []
    for entry in ground_truth:
        (name, params), = entry.items()
        args = {}
        for p, values in params.items():
            v = pick(values, rng, omit_optional)
            if v is not OMIT:
                args[p] = v
        calls.append((name, args))
    return calls


def mutate_value(v, rng):
    if isinstance(v, bool):
        return rng.choice([not v, int(v)])
    if isinstance(v, int):
        return rng.choice([v + 1, float(v), str(v)])
    if isinstance(v, float):
        return rng.choice([v + 1.5, int(v), str(v)])
    if isinstance(v, str):
        return rng.choice([v + "x", v.upper(), v.replace(" ", "-"), "", v.title()])
    if isinstance(v, list):
        return rng.choice([list(reversed(v)), tuple(v), v[:-1], v + v[:1]])
    if isinstance(v, dict):
        if v and rng.random() < 0.5:
            k = rng.choice(list(v))
            return {**v, k: mutate_value(v[k], rng)}
        return {**v, "extra_key": 1}
    return "x"


def perturb(calls, rng):
    calls = [(n, dict(a)) for n, a in calls]
    kind = rng.choice(["value", "value", "value", "nested", "drop", "extra", "rename", "order",
                       "dup", "text", "layout"])
    i = rng.randrange(len(calls))
    name, args = calls[i]
    if kind == "value" and args:
        k = rng.choice(list(args))
        args[k] = mutate_value(args[k], rng)
    elif kind == "nested" and args:
        # Mutate inside a dict or list value when there is one.
        nested = [k for k, v in args.items() if isinstance(v, (dict, list)) and v]
        k = rng.choice(nested or list(args))
        v = args[k]
        if isinstance(v, dict):
            key = rng.choice(list(v))
            args[k] = {**v, key: mutate_value(v[key], rng)} if rng.random() < 0.7 else {
                kk: vv for kk, vv in v.items() if kk != key}
        elif isinstance(v, list):
            j = rng.randrange(len(v))
            args[k] = v[:j] + [mutate_value(v[j], rng)] + v[j + 1:]
        else:
            args[k] = mutate_value(v, rng)
    elif kind == "layout":
        # Same calls, laid out as models do: no brackets, newlines, fences, comments.
        text = render(calls)
        return rng.choice([text[1:-1], "```\n" + text + "\n```", text.replace(", ", ",\n    "),
                           "\n" + text + "  "])
    elif kind == "drop" and args:
        del args[rng.choice(list(args))]
    elif kind == "extra":
        args["unexpected_arg"] = 1
    elif kind == "rename":
        calls[i] = (name + "_v2", args)
    elif kind == "order" and len(calls) > 1:
        calls.reverse()
    elif kind == "dup":
        calls.append(calls[i])
    elif kind == "text":
        return "Sure! " + render(calls)
    return render(calls)


def strip_docs(o):
    if isinstance(o, dict):
        return {k: strip_docs(v) for k, v in o.items() if k not in ("description", "enum", "default")}
    if isinstance(o, list):
        return [strip_docs(x) for x in o]
    return o


def main():
    rng = random.Random(20260323)
    data = WHEEL / "bfcl_eval/data"
    lines = []
    for category in CATEGORIES:
        rows = [json.loads(l) for l in open(data / f"BFCL_v4_{category}.json")]
        answers = {}
        if "irrelevance" not in category:
            answers = {json.loads(l)["id"]: json.loads(l)["ground_truth"]
                       for l in open(data / f"possible_answer/BFCL_v4_{category}.json")}
        for row in rng.sample(rows, min(ROWS_PER_CATEGORY, len(rows))):
            functions = strip_docs(row["function"])
            truth = answers.get(row["id"])
            if truth is None:
                # Irrelevance: a call to an offered function, a refusal, an empty list.
                fn = functions[0]
                args = {p: 1 for p in fn["parameters"].get("required", [])}
                outputs = [render([(fn["name"], args)]), "I cannot answer that with these tools.", "[]"]
            else:
                outputs = [render(gold(truth, rng, omit_optional=False)),
                           render(gold(truth, rng, omit_optional=True))]
                outputs += [perturb(gold(truth, rng, rng.random() < 0.5), rng) for _ in range(3)]
            cases = []
            for output in outputs:
                valid, error_type = bfcl_verdict(category, row["function"], truth, output)
                cases.append({"output": output, "valid": valid, "error_type": error_type})
            lines.append(json.dumps({"id": row["id"], "function": functions, "ground_truth": truth,
                                     "cases": cases}, ensure_ascii=False))
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())
    n = sum(len(json.loads(l)["cases"]) for l in lines)
    print(f"{OUT}: {len(lines)} rows, {n} cases")


if __name__ == "__main__":
    main()
