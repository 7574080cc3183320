#!/usr/bin/python3
"""Prints the field tables of protocol/PROTOCOL.md from the schema (proto_peer --schema), to
paste into PROTOCOL.md after a schema change. test_doc checks that PROTOCOL.md names every
record and field of the schema; this script only saves typing."""
import json
import os
import subprocess
import sys

KINDS = {"I64": "int", "F64": "float", "BOOL": "bool", "STR": "str", "F32S": "bin f32 LE",
         "I64S": "int[]", "REC": "map", "RECS": "map[]"}


def main():
    build = os.environ.get("MOS_BUILD_ROOT", "build")
    schema = json.loads(subprocess.check_output(
        [os.path.join(build, "tests", "protocol", "proto_peer"), "--schema"]))
    names = sys.argv[1:] or list(schema["records"])
    for name in names:
        print(f"### `{name}`\n")
        print("| key | type | | meaning |")
        print("|---|---|---|---|")
        for f in schema["records"][name]:
            t = KINDS[f["kind"]]
            if f["kind"] in ("REC", "RECS"):
                t += f" `{f['sub']}`"
            if f["kind"] == "STR":
                t += f" ≤ {f['max']} B"
            if f["kind"] in ("F32S", "I64S", "RECS"):
                t += f" ≤ {f['max']}"
            req = "req" if f["required"] else "opt"
            doc = f["doc"].replace("|", "/")
            print(f"| `{f['name']}` | {t} | {req} | {doc} |")
        print()


if __name__ == "__main__":
    main()
