#!/bin/sh
# Builds pgsniff's capture process (native/pgsniff-capture.c) at `npm install`. It needs a C
# compiler and libpcap's headers (Debian: apt-get install gcc libc6-dev libpcap-dev). Without
# them live capture uses tcpdump instead (apt-get install tcpdump), and this says so.
cd "$(dirname "$0")" || exit 0
mkdir -p build
if cc -O2 -Wall -o build/pgsniff-capture pgsniff-capture.c -lpcap 2>build/cc.log; then
  rm -f build/cc.log
else
  echo "pgsniff: the capture process was not built (needs gcc, libc6-dev and libpcap-dev: $(head -c 200 build/cc.log)); live capture will use tcpdump" >&2
fi
exit 0
