"""fencepost client adapter: python-redis-lock's Lock with auto-renewal.

The library renews the lock from a thread of its own every two thirds of
its expiry; a client pause (SIGSTOP) stops that thread too. One JSON
request per line on stdin, one answer per line on stdout (docs/CLIENTS.md).
"""
import json
import sys

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
import redis_lock


def answer(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main():
    init = json.loads(sys.stdin.readline())["init"]
    host, port = init["endpoints"][0].rsplit(":", 1)
    timeout = init["timeout_ms"] / 1000
    wait = init["acquire_wait_ms"] / 1000
    # No retries inside a call: a retried SET NX that finds its own key says
    # "busy" after it took the lock.
    r = redis.Redis(host=host, port=int(port), socket_timeout=timeout, socket_connect_timeout=timeout,
                    retry=Retry(NoBackoff(), 0))
    held = {}  # handle (the lock's id) -> the Lock object
    answer(ok=True)
    for line in sys.stdin:
        request = json.loads(line)
        rid, op, key = request["id"], request["op"], request["key"]
        try:
            if op == "acquire":
                # Its expiry is whole seconds: the answer says the lease it really asked for.
                expire = max(1, round(request["ttl_ms"] / 1000))
                lock = redis_lock.Lock(r, key, expire=expire, auto_renewal=True)
                if lock.acquire(blocking=wait > 0, timeout=wait or None):
                    held[lock.id] = lock
                    answer(id=rid, type="ok", ttl_ms=expire * 1000, handle=lock.id)
                else:
                    answer(id=rid, type="fail", busy=True, error="lock busy")
            elif op == "release":
                held.pop(request["handle"]).release()  # NotAcquired when it had expired
                answer(id=rid, type="ok")
            else:
                answer(id=rid, type="fail", error=f"unknown op {op}")
        except (redis_lock.NotAcquired, redis_lock.AlreadyAcquired) as e:
            answer(id=rid, type="fail", error=f"{type(e).__name__}: {e}")
        except redis.RedisError as e:
            answer(id=rid, type="info", error=f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
