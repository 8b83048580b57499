"""fencepost client adapter: redis-py's Lock over JSON lines (docs/CLIENTS.md).

One request per line on stdin, one answer per line on stdout; fencepost
records the history itself, so this program keeps no clock."""
import json
import sys

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.exceptions import LockError


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
    held = {}  # handle (the lock's token) -> the Lock object
    answer(ok=True)
    for line in sys.stdin:
        request = json.loads(line)
        rid, op, key = request["id"], request["op"], request["key"]
        try:
            if op == "acquire":
                lock = r.lock(key, timeout=request["ttl_ms"] / 1000, thread_local=False)
                if lock.acquire(blocking=wait > 0, blocking_timeout=wait or None):
                    handle = lock.local.token.decode()
                    held[handle] = lock
                    answer(id=rid, type="ok", ttl_ms=request["ttl_ms"], handle=handle)
                else:
                    answer(id=rid, type="fail", busy=True, error="lock busy")
            elif op == "release":
                lock = held.pop(request["handle"])
                lock.release()  # raises LockNotOwnedError when it had expired
                answer(id=rid, type="ok")
            elif op == "renew":
                held[request["handle"]].extend(request["ttl_ms"] / 1000, replace_ttl=True)
                answer(id=rid, type="ok", ttl_ms=request["ttl_ms"])
            else:
                answer(id=rid, type="fail", error=f"unknown op {op}")
        except LockError as e:
            # The script ran and changed nothing: not ours (any more).
            answer(id=rid, type="fail", error=f"{type(e).__name__}: {e}")
        except redis.RedisError as e:
            # A timeout or a lost connection: it may have taken effect.
            answer(id=rid, type="info", error=f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
