#!/usr/bin/env python3
"""The layering rules of README.md ("Layers"), checked on the include graph of src/.

Reads every .h/.cc under src/, takes `#include "dir/..."` as an edge from the file's
top-level folder to `dir`, and fails (exit 1, naming the file and line) when
- src/wasm (the engine) includes proxy_wasm, proxy, net, http or config;
- src/proxy_wasm includes proxy, net, event or config;
- src/http includes proxy_wasm, proxy, wasm or config;
- a file outside src/config includes yaml-cpp;
- the folders form a cycle, other than the ones listed in KNOWN_CYCLES (each is a debt
  the README names; a new cycle, or a listed one that grew, fails).
Usage: check_layering.py [SRC_DIR]   (default: the src/ next to tests/)
"""
import pathlib
import re
import sys

FORBIDDEN = {
    "wasm": {"proxy_wasm", "proxy", "net", "http", "config"},
    "proxy_wasm": {"proxy", "net", "event", "config"},
    "http": {"proxy_wasm", "proxy", "wasm", "config"},
}
# Folder cycles that exist today, as sets of folders; see README.md, "Layers".
KNOWN_CYCLES = [
    {"access_log", "config"},
    {"access_log", "proxy"},
]
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def scan(src):
    edges = {}  # (from, to) -> first "file:line"
    problems = []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".h", ".cc") or not path.is_file():
            continue
        rel = path.relative_to(src)
        folder = rel.parts[0] if len(rel.parts) > 1 else ""
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, target = m.groups()
            where = f"src/{rel}:{n}"
            if target.startswith("yaml-cpp/") and folder != "config":
                problems.append(f"{where}: only src/config may include yaml-cpp ({target})")
            if kind != '"' or "/" not in target:
                continue
            to = target.split("/")[0]
            if not (src / to).is_dir() or to == folder or not folder:
                continue
            edges.setdefault((folder, to), where)
            if to in FORBIDDEN.get(folder, ()):
                problems.append(f"{where}: src/{folder} must not include src/{to} ({target})")
    return edges, problems


def strongly_connected(nodes, edges):
    """Tarjan's algorithm: the components with more than one folder are the cycles."""
    graph = {n: sorted(t for (f, t) in edges if f == n) for n in nodes}
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for n in sorted(nodes):
        if n not in index:
            visit(n)
    return out


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                       pathlib.Path(__file__).resolve().parents[2] / "src")
    edges, problems = scan(src)
    nodes = {f for e in edges for f in e}
    allowed = set().union(*KNOWN_CYCLES) if KNOWN_CYCLES else set()
    for comp in strongly_connected(nodes, edges):
        # A listed cycle may stay as it is; anything more (another folder joining it, a
        # new cycle) fails. Within the listed folders, only listed pairs may point both ways.
        bad = comp - allowed
        pairs = {frozenset((a, b)) for (a, b) in edges if a in comp and b in comp
                 and (b, a) in edges}
        unknown_pairs = [p for p in pairs if set(p) not in KNOWN_CYCLES]
        if bad or unknown_pairs or not any(c <= comp for c in KNOWN_CYCLES):
            detail = "; ".join(f"{a} -> {b} ({w})" for (a, b), w in sorted(edges.items())
                               if a in comp and b in comp)
            problems.append(f"include cycle between src/{', src/'.join(sorted(comp))}: {detail}")
    for p in problems:
        print(p)
    if problems:
        print(f"layering: {len(problems)} violation(s)")
        return 1
    print(f"layering: ok ({len(edges)} folder edges in {src})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
