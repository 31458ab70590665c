#!/usr/bin/env python3
"""What each plugin costs the host, from the callgrind dumps of one ipr.sh run.

usage: plugin_host_share.py RUN_DIR

RUN_DIR holds weir.callgrind (no plugin) and weir+<sdk>.callgrind dumps made in the same run
by ../shared/tools/ipr.sh. For each plugin it prints, per request: the instructions the
plugin adds over weir alone, split into the guest's own code (JIT-compiled Wasm, which is
what callgrind cannot name) and the host's share (everything else the plugin adds), and how
many calls cross the boundary each way. SDKs differ in how many callbacks they export and how
many host calls they make, so the host's share is also shown per crossing.
"""
import collections
import os
import re
import sys

# Every call into Wasm goes through this C API entry, every host call through this function.
ENTRY = "wasmtime_func_call_unchecked"
HOST_CALL = "weir::wasm::wt::host_function_trampoline"


def read_dump(path):
    """Self cost split into JIT / not JIT, and call counts per callee name."""
    names = {"ob": {}, "fn": {}}
    kinds = {"ob": "ob", "cob": "ob", "fn": "fn", "cfn": "fn"}
    jit_self = other_self = 0
    calls_to = collections.Counter()
    ob = cfn = None
    pending = False
    requests = None

    def name(kind, rest):
        m = re.match(r"\((\d+)\)(?: (.*))?$", rest)
        if not m:
            return rest
        table = names[kinds[kind]]
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), "?")

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if pending:  # the line after calls= is the call's inclusive cost
                    pending = False
                    continue
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if os.path.basename(ob or "???") == "???":
                    jit_self += cost
                else:
                    other_self += cost
                continue
            key, _, rest = line.partition("=")
            if key == "ob":
                ob = name(key, rest)
            elif key in ("fn", "cob"):
                name(key, rest)
            elif key == "cfn":
                cfn = name(key, rest)
            elif key == "calls":
                callee = (cfn or "").split("(")[0]
                calls_to[callee] += int(rest.split()[0])
                pending = True
            elif line.startswith("desc: Trigger:"):
                m = re.search(r"ipr-n=(\d+)", line)
                requests = int(m.group(1)) if m else None
    if not requests:
        sys.exit(f"{path}: no 'ipr-n=N' trigger: not a dump made by ipr.sh")
    return {
        "jit": jit_self / requests,
        "total": (jit_self + other_self) / requests,
        "entries": calls_to[ENTRY] / requests,
        "host_calls": calls_to[HOST_CALL] / requests,
    }


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = sys.argv[1]
    base_path = os.path.join(run, "weir.callgrind")
    if not os.path.exists(base_path):
        sys.exit(f"{base_path}: missing (run ipr.sh with the 'weir' target too)")
    base = read_dump(base_path)
    plugins = sorted(
        f[len("weir+"):-len(".callgrind")]
        for f in os.listdir(run)
        if f.startswith("weir+") and f.endswith(".callgrind")
    )
    if not plugins:
        sys.exit(f"{run}: no weir+<sdk>.callgrind dumps")
    print(f"plugin cost per request over weir alone ({base['total']:,.0f} Ir/request), "
          f"from {run}")
    header = ("plugin", "Ir/req", "added", "guest(JIT)", "host share", "into Wasm",
              "host calls", "host/crossing")
    print("{:<8} {:>9} {:>8} {:>10} {:>10} {:>9} {:>10} {:>13}".format(*header))
    for plugin in plugins:
        p = read_dump(os.path.join(run, f"weir+{plugin}.callgrind"))
        added = p["total"] - base["total"]
        guest = p["jit"] - base["jit"]
        host = added - guest
        crossings = p["entries"] + p["host_calls"]
        per = host / crossings if crossings else float("nan")
        print(f"{plugin:<8} {p['total']:>9,.0f} {added:>8,.0f} {guest:>10,.0f} {host:>10,.0f} "
              f"{p['entries']:>9.2f} {p['host_calls']:>10.2f} {per:>13,.0f}")


if __name__ == "__main__":
    main()
