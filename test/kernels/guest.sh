#!/bin/sh
# Inside a kernel lab guest (test/kernels/matrix.ts boots it with this
# machine's root shared in): what a bare guest lacks, then the kernel suite.
set -eu
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
modprobe -q veth 2>/dev/null || true # a module on Debian's kernels
exec node --import tsx --test --test-concurrency=1 --test-reporter=tap test/kernels/suite.test.ts
