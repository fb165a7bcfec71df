#!/usr/bin/env python3
"""Finds import cycles between modules of each crate of the workspace.

A module is a source file under a crate's src/ (mod.rs and lib.rs stand for their folder).
An edge A -> B is a `crate::…` or `super::…` path in A that names B (or an item in B).
Edges between a module and its own ancestors are ignored (a child naturally uses what its
parent declares, and the parent declares the child). Prints each cycle; exits 1 if any.
Usage: python3 scripts/module_cycles.py [crate_src_dir ...] (default: every crate).
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_path(src: Path, f: Path):
    parts = list(f.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def resolve(mods, base, segs):
    """Deepest existing module named by base + segs."""
    best = None
    cur = tuple(base)
    if cur in mods:
        best = cur
    for s in segs:
        cur = cur + (s,)
        if cur in mods:
            best = cur
        else:
            break
    return best


PATH = re.compile(r"\b(crate|super)((?:::\w+)+)")
GROUP = re.compile(r"\b(crate|super)((?:::\w+)*)::\{([^;]*?)\}", re.S)


def edges_of(mods, mod, text):
    out = set()
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
    refs = []
    for m in GROUP.finditer(text):
        head, prefix, body = m.group(1), m.group(2), m.group(3)
        for item in re.split(r"[,\s]+", body):
            item = item.split(" as ")[0].strip()
            if item and item not in ("self", "{", "}"):
                refs.append((head, prefix + "::" + item.split("::")[0] + ("::" + "::".join(item.split("::")[1:]) if "::" in item else "")))
    for m in PATH.finditer(text):
        refs.append((m.group(1), m.group(2)))
    for head, path in refs:
        segs = [s for s in path.split("::") if s]
        if head == "crate":
            base = ()
        else:
            base = list(mod)
            while segs and segs[0] == "super":
                segs = segs[1:]
            base = tuple(base[:-1]) if base else ()
            # `super::super::x`
            n = path.count("super")
        if head == "super":
            n = 1 + path.count("::super")
            base = tuple(mod[: max(0, len(mod) - n)])
            segs = [s for s in segs if s != "super"]
        target = resolve(mods, base, segs)
        if target is None or target == mod:
            continue
        if mod[: len(target)] == target or target[: len(mod)] == mod:
            continue  # ancestor or descendant
        out.add(target)
    return out


def cycles(src: Path):
    files = [f for f in src.rglob("*.rs")]
    mods = {module_path(src, f): f for f in files}
    graph = {m: edges_of(mods, m, f.read_text()) for m, f in mods.items()}
    # Tarjan's strongly connected components.
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
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
            if len(comp) > 1:
                comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    return comps


def main():
    dirs = [Path(a) for a in sys.argv[1:]] or [
        p.parent / "src" for p in ROOT.rglob("Cargo.toml")
        if (p.parent / "src").is_dir() and "target" not in p.parts
    ]
    bad = 0
    for src in sorted(dirs):
        for comp in cycles(src):
            bad += 1
            names = ", ".join("::".join(m) or "(root)" for m in sorted(comp))
            where = src.relative_to(ROOT) if src.is_relative_to(ROOT) else src
            print(f"{where}: cycle between {names}")
    if bad:
        sys.exit(1)
    print(f"no module cycles in {len(dirs)} crates")


if __name__ == "__main__":
    main()
