"""A private redis-server for tests that restart Redis or run whole deployments (crash drills, topology);
it lives in gateway.devtools so the send-path benchmark (bench/bench_send_path.py) shares it."""

from gateway.devtools.private_redis import PrivateRedis

__all__ = ["PrivateRedis"]
