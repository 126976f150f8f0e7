"""PyKMIP's own TTLV codec (kmip.core.messages), driven from ekmd's tests and benchmark.

  roundtrip   stdin lines "request|response <major>.<minor> <hex>"; for each, PyKMIP reads
              the message and writes it back: prints the hex it wrote, or "ERR <reason>".
  bench SECONDS FILE...
              decodes (read) and encodes (write) the messages in FILE... for about SECONDS
              each way and prints {"decode": {"wall": MB/s, "cpu": MB/s}, "encode": …,
              "bytes": n} as JSON (cpu: MB per second of this process's CPU time).
"""
import json
import sys
import time

from kmip.core import enums, utils
from kmip.core.messages import messages

VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0, "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2, "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4, "2.0": enums.KMIPVersion.KMIP_2_0,
}
REQUEST_TAG = bytes.fromhex("420078")


def read(data, kind, version):
    msg = messages.RequestMessage() if kind == "request" else messages.ResponseMessage()
    msg.read(utils.BytearrayStream(data), kmip_version=version)
    return msg


def write(msg, version):
    out = utils.BytearrayStream()
    msg.write(out, kmip_version=version)
    return out.buffer


def roundtrip():
    for line in sys.stdin:
        kind, version, hexdata = line.split()
        try:
            v = VERSIONS[version]
            print(write(read(bytes.fromhex(hexdata), kind, v), v).hex(), flush=True)
        except Exception as err:  # report, keep serving the next line
            print("ERR " + type(err).__name__ + ": " + str(err).replace("\n", " "), flush=True)


def bench(seconds, files):
    corpus = []
    for name in files:
        with open(name, "rb") as f:
            data = f.read()
        corpus.append((data, "request" if data[:3] == REQUEST_TAG else "response"))
    v = enums.KMIPVersion.KMIP_1_2
    total = sum(len(d) for d, _ in corpus)

    def timed(fn):
        """MB/s by wall time and by this process's CPU time."""
        rounds, start, cpu = 0, time.perf_counter(), time.process_time()
        while True:
            fn()
            rounds += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                used = time.process_time() - cpu
                return {"wall": rounds * total / elapsed / 1e6, "cpu": rounds * total / used / 1e6}

    decoded = [read(d, k, v) for d, k in corpus]
    decode = timed(lambda: [read(d, k, v) for d, k in corpus])
    encode = timed(lambda: [write(m, v) for m in decoded])
    print(json.dumps({"decode": decode, "encode": encode, "bytes": total}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["roundtrip"]:
        roundtrip()
    elif sys.argv[1:2] == ["bench"] and len(sys.argv) > 3:
        bench(float(sys.argv[2]), sys.argv[3:])
    else:
        sys.exit(__doc__)
