"""fencepost client adapter: pottery's Redlock over the Redlock nodes.

One JSON request per line on stdin, one answer per line on stdout
(docs/CLIENTS.md). Redis errors are raised, not swallowed, so that a
refused quorum (busy) is told from nodes that did not answer (unknown).
"""
import json
import logging
import sys

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from pottery import Redlock
from pottery.exceptions import PotteryError, QuorumNotAchieved, ReleaseUnlockedLock


def answer(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class Errors(logging.Handler):
    """Counts the Redis errors pottery logs: on a minority of nodes it
    raises nothing, yet those nodes may have taken (or kept) our value."""
    count = 0

    def emit(self, record):
        Errors.count += 1


def main():
    log = logging.getLogger("pottery")
    log.addHandler(Errors(logging.ERROR))
    log.propagate = False
    init = json.loads(sys.stdin.readline())["init"]
    timeout = init["timeout_ms"] / 1000
    wait = init["acquire_wait_ms"] / 1000
    masters = set()
    for endpoint in init["endpoints"]:
        host, port = endpoint.rsplit(":", 1)
        masters.add(redis.Redis(host=host, port=int(port), socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 0)))
    held = {}  # handle -> the Redlock object
    answer(ok=True)
    for line in sys.stdin:
        request = json.loads(line)
        rid, op, key = request["id"], request["op"], request["key"]
        Errors.count = 0
        try:
            if op == "acquire":
                lock = Redlock(key=key, masters=masters, auto_release_time=request["ttl_ms"] / 1000,
                               raise_on_redis_errors=True)
                if lock.acquire(blocking=wait > 0, timeout=wait if wait > 0 else -1):
                    handle = f"{key}/{id(lock)}"
                    held[handle] = lock
                    answer(id=rid, type="ok", ttl_ms=request["ttl_ms"], handle=handle)
                elif Errors.count:
                    answer(id=rid, type="info", error=f"not granted; {Errors.count} node(s) did not answer")
                else:
                    answer(id=rid, type="fail", busy=True, error="quorum refused: lock busy")
            elif op == "release":
                held.pop(request["handle"]).release()
                answer(id=rid, type="ok")
            else:
                answer(id=rid, type="fail", error=f"unknown op {op}")
        except ReleaseUnlockedLock as e:
            # Nodes that did not answer may have deleted it: unknown.
            kind = "info" if Errors.count else "fail"
            answer(id=rid, type=kind, error=f"{type(e).__name__}: {e}")
        except (QuorumNotAchieved, PotteryError, redis.RedisError) as e:
            # Some nodes may have taken it: unknown.
            answer(id=rid, type="info", error=f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
