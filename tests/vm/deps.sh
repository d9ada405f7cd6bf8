#!/usr/bin/env bash
# The VM harness's Debian packages (kernel build + QEMU): see scripts/deps.sh.
exec "$(dirname "$0")/../../scripts/deps.sh" --vm
