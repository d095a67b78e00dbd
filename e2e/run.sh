#!/bin/sh
# Black-box e2e checks of the built binary (loopback ports 9300-9349 only).
set -e
cd "$(dirname "$0")/.."
go build -o /tmp/e2e-caddy ./cmd/caddy
exec timeout 300 python3 e2e/run.py /tmp/e2e-caddy
