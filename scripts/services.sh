#!/usr/bin/env bash
# Makes sure the local PostgreSQL and Redis that Tika uses by default are running:
# starts them when they are installed but stopped, and says how to get them when they are absent.
# Services named by a non-local DATABASE_URL / REDIS_URL are left alone.
set -u

db_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tika}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
is_local() { [[ "$1" == *@127.0.0.1* || "$1" == *@localhost* || "$1" == *//127.0.0.1* || "$1" == *//localhost* ]]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 40); do port_open "$1" && return 0; sleep 0.25; done; return 1; }
status=0

if is_local "$db_url" && ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "services: starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_port 5432 || { echo "services: PostgreSQL did not start; see /var/log/postgresql" >&2; status=1; }
  else
    echo "services: PostgreSQL is not installed. Install it (Debian/Ubuntu: apt-get install postgresql)," >&2
    echo "          allow user postgres from 127.0.0.1 (trust), or set DATABASE_URL to a server you have." >&2
    status=1
  fi
fi

if is_local "$redis_url" && ! port_open 6379; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "services: starting Redis"
    # Queued jobs and schedules live only in Redis: an append-only file keeps them across a restart,
    # and noeviction makes a full Redis refuse writes (which the outbox retries) instead of dropping jobs.
    redis_dir=/var/lib/redis
    mkdir -p "$redis_dir" /var/log/redis 2>/dev/null || true
    [ -w "$redis_dir" ] || { redis_dir="${XDG_DATA_HOME:-$HOME/.local/share}/tika/redis"; mkdir -p "$redis_dir"; }
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" \
      --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
      --dir "$redis_dir" --logfile "$redis_dir/tika-redis.log" >/dev/null
    wait_port 6379 || { echo "services: Redis did not start; see $redis_dir/tika-redis.log" >&2; status=1; }
  else
    echo "services: Redis is not installed. Install it (Debian/Ubuntu: apt-get install redis-server)," >&2
    echo "          or set REDIS_URL to a server you have." >&2
    status=1
  fi
fi
exit $status
