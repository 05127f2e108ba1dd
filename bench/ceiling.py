"""The ceiling: one bare aiohttp client process POSTing the same ~1 KiB bodies Tidings delivers
to the receiver, with a fixed number of requests in flight, nothing stored. Prints one JSON
object: requests completed per second after a warm-up.

    .venv/bin/python bench/ceiling.py http://127.0.0.1:8080/ceiling --seconds 5 --sign

With --sign every request carries Standard Webhooks headers signed for it (HMAC-SHA256 of
``id.timestamp.body``), as Tidings signs every delivery."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time

import aiohttp

from common import sample_body, standard_signature, use_uvloop


async def blast(
    url: str, seconds: float, concurrency: int, sign: bool, warmup: float
) -> dict[str, object]:
    body = sample_body()
    secret = secrets.token_bytes(24)
    counted = errors = 0
    begin = time.perf_counter()
    measure_from = begin + warmup
    stop_at = measure_from + seconds
    counter = 0

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal counted, errors, counter
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            counter += 1
            msg_id = f"msg_{counter}"
            headers = {"Content-Type": "application/json", "webhook-id": msg_id}
            if sign:
                timestamp = int(time.time())
                headers["webhook-timestamp"] = str(timestamp)
                headers["webhook-signature"] = standard_signature(secret, msg_id, timestamp, body)
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                ok = response.status == 200
            if now >= measure_from:
                if ok:
                    counted += 1
                else:
                    errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - measure_from
    return {
        "requests": counted,
        "errors": errors,
        "seconds": elapsed,
        "rate": counted / elapsed,
        "concurrency": concurrency,
        "signed": sign,
        "body_bytes": len(body),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured time first")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--sign", action="store_true", help="Standard Webhooks signature")
    args = parser.parse_args()
    loop = use_uvloop()
    result = asyncio.run(blast(args.url, args.seconds, args.concurrency, args.sign, args.warmup))
    print(json.dumps({**result, "loop": loop}))


if __name__ == "__main__":
    main()
