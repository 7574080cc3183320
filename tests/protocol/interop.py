#!/usr/bin/python3
"""Interop: a third-party client (Debian's python3-zmq + python3-msgpack, strict map keys)
talks to the C protocol through a real socket. It starts tests/protocol/proto_peer (C), finds
it through endpoints.json, checks every message type it publishes against the schema the C
code prints (kinds, bounds, required keys, bin f32 arrays), asks for a snapshot and status, sends
commands whose decoding the peer echoes back, checks error replies for bad commands, and
replays the peer's events.msgpack with a streaming unpacker.
Then the same peer as a CURVE server with a ZAP allow-list: a pyzmq client whose key is listed
receives messages and gets replies; one whose key is not listed gets nothing."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import msgpack
import numpy
import zmq

BUILD = os.environ.get("MOS_BUILD_ROOT", "build")
PEER = os.path.join(BUILD, "tests", "protocol", "proto_peer")


def fail(msg):
    print("interop: FAIL: " + msg)
    sys.exit(1)


def check_record(schema, name, obj, path):
    """Checks obj (a decoded map) against record `name` of the C schema."""
    if not isinstance(obj, dict):
        fail(f"{path}: expected a map, got {type(obj).__name__}")
    for f in schema["records"][name]:
        key, kind, mx = f["name"], f["kind"], f["max"]
        p = f"{path}.{key}"
        if key not in obj:
            if f["required"]:
                fail(f"{p}: required key missing")
            continue
        v = obj[key]
        ok = {
            "I64": lambda: isinstance(v, int) and not isinstance(v, bool),
            "F64": lambda: isinstance(v, (float, int)) and not isinstance(v, bool),
            "BOOL": lambda: isinstance(v, bool),
            "STR": lambda: isinstance(v, str) and len(v.encode()) <= mx,
            "F32S": lambda: isinstance(v, bytes) and len(v) % 4 == 0 and len(v) // 4 <= mx,
            "I64S": lambda: isinstance(v, list) and len(v) <= mx
            and all(isinstance(x, int) for x in v),
            "REC": lambda: isinstance(v, dict),
            "RECS": lambda: isinstance(v, list) and len(v) <= mx,
        }[kind]()
        if not ok:
            fail(f"{p}: {kind} expected, got {type(v).__name__} {v!r:.60}")
        if kind == "F32S":
            numpy.frombuffer(v, dtype="<f4")          # zero-copy view, as documented
        if kind == "REC":
            check_record(schema, f["sub"], v, p)
        if kind == "RECS":
            for i, x in enumerate(v):
                check_record(schema, f["sub"], x, f"{p}[{i}]")


def request(dealer, cmd, timeout_ms=5000):
    dealer.send(msgpack.packb(cmd))
    if not dealer.poll(timeout_ms):
        fail(f"no reply to {cmd}")
    return msgpack.unpackb(dealer.recv())          # strict_map_key=True, raw=False


def main():
    schema = json.loads(subprocess.check_output([PEER, "--schema"]))
    tmp = tempfile.mkdtemp(prefix="mos-interop-")
    env = dict(os.environ, XDG_RUNTIME_DIR=tmp)
    peer = subprocess.Popen([PEER, "--run-dir", tmp, "--period-ms", "5", "--seconds", "25"],
                            env=env)
    try:
        run(schema, tmp, peer)
        os.remove(os.path.join(tmp, "endpoints.json"))
        run_curve(tmp, env)
    finally:
        if peer.poll() is None:
            peer.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("interop: OK")


def wait_endpoints(tmp, peer):
    path = os.path.join(tmp, "endpoints.json")
    for _ in range(500):
        if os.path.exists(path):
            return json.load(open(path))
        if peer.poll() is not None:
            fail(f"proto_peer exited with {peer.returncode}")
        time.sleep(0.01)
    fail("no endpoints.json")


def run(schema, tmp, peer):
    ep = wait_endpoints(tmp, peer)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(ep["pub"])
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(ep["ctl"])

    seen = set()
    deadline = time.time() + 10
    while len(seen) < len(schema["messages"]) and time.time() < deadline:
        if not sub.poll(200):
            continue
        topic, body = sub.recv_multipart()
        m = msgpack.unpackb(body)
        check_record(schema, "header", m, "message")
        if m["type"] != topic.decode() or m["v"] != schema["version"]:
            fail(f"topic {topic!r} / type {m['type']!r} / v {m['v']}")
        check_record(schema, m["type"], m["body"], m["type"])
        seen.add(m["type"])
    if seen != set(schema["messages"]):
        fail(f"message types never received: {set(schema['messages']) - seen}")

    r = request(dealer, {"v": 1, "cmd": "snapshot", "id": 1})
    check_record(schema, "reply", r, "reply")
    if not r["ok"] or "snapshot" not in r:
        fail(f"snapshot reply {r!r:.200}")
    check_record(schema, "snapshot", r["snapshot"], "snapshot")
    r = request(dealer, {"v": 1, "cmd": "status", "id": 2})
    if not r["ok"] or r["id"] != 2:
        fail(f"status reply {r!r:.200}")
    check_record(schema, "status", r["status"], "status")

    # the C side decodes these; it echoes what it decoded as a `log` message
    sent = [{"v": 1, "cmd": "target", "id": 99, "target_ms": 123.5},
            {"v": 1, "cmd": "extract", "id": 100, "arch": "e512:d512", "future_key": [1, 2]},
            {"v": 1, "cmd": "extract", "id": 101, "index": 3},
            {"v": 1, "cmd": "target", "id": 102, "target_ms": 80}]      # int for a double
    for cmd in sent:
        r = request(dealer, cmd)
        if r != {"v": 1, "id": cmd["id"], "ok": True}:
            fail(f"reply to {cmd}: {r}")
    echoed = {}
    want_ids = {c["id"] for c in sent}
    deadline = time.time() + 5
    while not want_ids <= set(echoed) and time.time() < deadline:
        if sub.poll(200):
            _, body = sub.recv_multipart()
            m = msgpack.unpackb(body)
            if m["type"] == "log" and m["body"]["level"] == "cmd":
                e = json.loads(m["body"]["text"])
                echoed[e["args"]["id"]] = e
    for cmd in sent:
        e = echoed.get(cmd["id"])
        want = {k: v for k, v in cmd.items() if k in ("target_ms", "arch", "index", "id")}
        if e is None or e["cmd"] != cmd["cmd"] or e["args"] != want:
            fail(f"C decoded {cmd} as {e}; echoed {echoed}")

    bad = [({"v": 1, "cmd": "explode", "id": 5}, "unknown_cmd", 5),
           ({"v": 1, "cmd": "target", "id": 6}, "bad_arg", 6),
           ({"v": 1, "cmd": "target", "id": 7, "target_ms": "fast"}, "bad_request", 7),
           ({"v": 9, "cmd": "pause", "id": 8}, "version", 8),
           ({"v": 1, "cmd": "pause"}, "bad_request", -1)]
    for cmd, code, rid in bad:
        r = request(dealer, cmd)
        if r.get("ok") is not False or r["error"]["code"] != code or r["id"] != rid:
            fail(f"reply to bad {cmd}: {r}")
        check_record(schema, "reply", r, "reply")
    dealer.send(msgpack.packb({1: 2}, strict_types=False))         # an int key
    if not dealer.poll(5000):
        fail("no reply to a map with an int key")
    r = msgpack.unpackb(dealer.recv())
    if r["ok"] or r["error"]["code"] != "bad_request":
        fail(f"int-key reply {r}")
    dealer.send(b"\xc1garbage")
    if not dealer.poll(5000) or msgpack.unpackb(dealer.recv())["ok"]:
        fail("no error reply to garbage")

    r = request(dealer, {"v": 1, "cmd": "stop", "id": 50})
    if not r["ok"]:
        fail(f"stop reply {r}")
    if peer.wait(timeout=10) != 0:
        fail(f"proto_peer exit status {peer.returncode}")
    check_event_log(schema, os.path.join(tmp, "events.msgpack"))
    sub.close()
    dealer.close()
    ctx.term()


def check_event_log(schema, path):
    """events.msgpack replays with a plain streaming unpacker: topic, body, topic, body..."""
    with open(path, "rb") as f:
        items = list(msgpack.Unpacker(f))
    if len(items) < 2 * len(schema["messages"]) or len(items) % 2:
        fail(f"event log holds {len(items)} values")
    seqs = []
    for topic, m in zip(items[0::2], items[1::2]):
        check_record(schema, "header", m, "event")
        if topic != m["type"]:
            fail(f"event log record: topic {topic!r} but type {m['type']!r}")
        check_record(schema, m["type"], m["body"], "event." + m["type"])
        seqs.append(m["seq"])
    if seqs != list(range(1, len(seqs) + 1)):
        fail("event log seqs are not 1, 2, 3, ...")


def curve_sockets(ctx, ep, keys):
    socks = []
    for kind in (zmq.SUB, zmq.DEALER):
        s = ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_serverkey = ep["server_key"].encode()
        s.curve_publickey, s.curve_secretkey = keys
        if kind == zmq.SUB:
            s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(ep["pub"] if kind == zmq.SUB else ep["ctl"])
        socks.append(s)
    return socks


def curve_client_works(ctx, ep, keys, wait_s):
    sub, dealer = curve_sockets(ctx, ep, keys)
    dealer.send(msgpack.packb({"v": 1, "cmd": "status", "id": 3}))
    heard = dealer.poll(int(wait_s * 1000)) and msgpack.unpackb(dealer.recv())["ok"]
    got_msg = sub.poll(int(wait_s * 1000)) != 0
    sub.close()
    dealer.close()
    if heard != got_msg:
        fail(f"CURVE client: reply {heard} but subscription {got_msg}")
    return heard


def run_curve(tmp, env):
    curve_dir = os.path.join(tmp, "curve")
    os.mkdir(curve_dir, 0o700)
    alice, mallory = zmq.curve_keypair(), zmq.curve_keypair()
    with open(os.path.join(curve_dir, "allowed_keys"), "w") as f:
        f.write("# dashboards allowed to connect\n" + alice[0].decode() + " alice@laptop\n")
    peer = subprocess.Popen([PEER, "--run-dir", tmp, "--period-ms", "5", "--seconds", "25",
                             "--curve", curve_dir], env=env)
    try:
        ep = wait_endpoints(tmp, peer)
        if not ep["pub"].startswith("tcp://127.0.0.1:") or len(ep["server_key"]) != 40:
            fail(f"CURVE endpoints {ep}")
        ctx = zmq.Context()
        if curve_client_works(ctx, ep, mallory, 1.5):
            fail("a CURVE client whose key is not in the allow-list got through")
        if not curve_client_works(ctx, ep, alice, 5):
            fail("an allowed CURVE client was refused")
        sub, dealer = curve_sockets(ctx, ep, alice)
        r = request(dealer, {"v": 1, "cmd": "stop", "id": 9})
        if not r["ok"] or peer.wait(timeout=10) != 0:
            fail(f"CURVE stop: {r}, exit {peer.returncode}")
        sub.close()
        dealer.close()
        ctx.term()
    finally:
        if peer.poll() is None:
            peer.kill()


if __name__ == "__main__":
    main()
