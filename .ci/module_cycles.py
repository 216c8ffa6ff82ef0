#!/usr/bin/env python3
"""Finds import cycles between the top-level modules of each crate.

A module `a` depends on `b` when code in a file under `a` names `crate::b` (comments do not
count). Tests (`#[cfg(test)]` blocks, `tests.rs` files) are left out:
they may reach anywhere. Prints each cycle (a strongly connected component of more than one
module) and exits 1 when there is any, so a cycle fails CI.

    python3 .ci/module_cycles.py            # every crate under crates/
    python3 .ci/module_cycles.py --files    # the same at file granularity (slower to read)
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
REF = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


COMMENT = re.compile(r"^\s*//.*$", re.M)


def strip_tests(text: str) -> str:
    text = COMMENT.sub("", text)
    # Drop `#[cfg(test)] mod tests { ... }` blocks by brace matching.
    out, i = [], 0
    while True:
        j = text.find("#[cfg(test)]", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = text.find("{", j)
        semi = text.find(";", j)
        if k < 0 or (0 <= semi < k):  # `#[cfg(test)] mod tests;`
            i = semi + 1 if semi >= 0 else len(text)
            continue
        depth, p = 0, k
        while p < len(text):
            if text[p] == "{":
                depth += 1
            elif text[p] == "}":
                depth -= 1
                if depth == 0:
                    break
            p += 1
        i = p + 1


def top_module(src: pathlib.Path, file: pathlib.Path) -> str:
    rel = file.relative_to(src)
    first = rel.parts[0]
    return first[:-3] if first.endswith(".rs") else first


def scc(graph):
    index, low, stack, on, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            result.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return result


def main() -> int:
    cycles = 0
    for src in sorted(ROOT.glob("crates/*/src")):
        graph = {}
        for file in src.rglob("*.rs"):
            if file.name == "tests.rs" or "tests" in file.relative_to(src).parts[:-1]:
                continue
            module = top_module(src, file)
            if module in ("lib", "main"):
                continue
            text = strip_tests(file.read_text())
            deps = {m for m in REF.findall(text) if m != module and ((src / m).exists() or (src / f"{m}.rs").exists())}
            deps.discard(module)
            graph.setdefault(module, set()).update(deps)
        for comp in scc(graph):
            if len(comp) > 1:
                cycles += 1
                print(f"{src.parent.name}: cycle between modules {', '.join(sorted(comp))}")
                for a in sorted(comp):
                    for b in sorted(graph.get(a, ()) & set(comp)):
                        users = sorted(str(f.relative_to(src)) for f in src.rglob("*.rs") if top_module(src, f) == a and f"crate::{b}" in strip_tests(f.read_text()))
                        print(f"    {a} -> {b}  ({', '.join(users)})")
    if cycles:
        print(f"{cycles} module import cycle(s)")
        return 1
    print("no module import cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
