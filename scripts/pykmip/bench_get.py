"""Time PyKMIP's ProxyKmipClient fetching objects one Get at a time over one open
connection, for scripts/bench/kmip-fetch.ts. Prints one JSON line of timings (ms).

usage: /usr/bin/python3 bench_get.py PORT CA CERT KEY ROUNDS UID...
"""
import json
import sys
import time

from kmip.core import enums
from kmip.pie.client import ProxyKmipClient


def main():
    port, ca, cert, key, rounds = sys.argv[1:6]
    uids = sys.argv[6:]
    client = ProxyKmipClient(
        hostname="127.0.0.1",
        port=int(port),
        cert=cert,
        key=key,
        ca=ca,
        ssl_version="PROTOCOL_TLSv1_2",
        config_file="/dev/null",
        kmip_version=enums.KMIPVersion.KMIP_1_4,
    )
    client.open()
    try:
        for uid in uids[:3]:  # warm up
            client.get(uid)
        times = []
        for _ in range(int(rounds)):
            start = time.perf_counter()
            for uid in uids:
                client.get(uid)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        client.close()
    print(json.dumps({"ms": times}))


if __name__ == "__main__":
    main()
