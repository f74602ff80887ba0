#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The wire as ground truth for tests (test/helpers/wire.ts): every TCP packet
that crosses one interface, in both directions, as one JSON line each.

    wire.py IFACE [PORT]

An AF_PACKET socket sees packets where taps see them: after TC egress (so
after anything a TC program dropped) and, at ingress, after GRO and before
TC ingress. With PACKET_VNET_HDR each packet comes with its virtio_net_hdr,
which carries gso_size: a GSO or GRO batch is counted in the segments it
stands for on the wire (ceil(payload / gso_size)), which pcap cannot tell.

Prints "ready" once bound, then per TCP packet (only those with PORT at
either end, when given) {"o": 1 if outgoing, "s"/"d": addresses, "sp"/"dp":
ports, "q": seq, "a": ack, "f": flags, "h": IP + TCP header bytes, "p":
payload bytes, "n": segments}; on SIGTERM or SIGINT a last line
{"stats": {"packets": N, "drops": N}} from PACKET_STATISTICS (drops: what
the socket lost, so that a test can refuse an incomplete capture).
"""
import json
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_VNET_HDR = 15
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33  # not in the socket module
VNET_HDR = struct.Struct("<BBHHHH")  # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
SNAP = VNET_HDR.size + 14 + 60 + 60  # headers only: Ethernet, IPv4 with options, TCP with options


def stats(sock):
    packets, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    return {"packets": packets, "drops": drops}


def parse(buf, n, pkttype, port):
    """One record, or None for what is not TCP (or not on port)."""
    _, _, _, gso_size, _, _ = VNET_HDR.unpack_from(buf, 0)
    off = VNET_HDR.size
    ethertype = struct.unpack_from("!H", buf, off + 12)[0]
    l3 = off + 14
    if ethertype == 0x0800:
        if buf[l3 + 9] != socket.IPPROTO_TCP or struct.unpack_from("!H", buf, l3 + 6)[0] & 0x3FFF:
            return None
        ip_len = (buf[l3] & 0x0F) * 4
        src = socket.inet_ntop(socket.AF_INET, bytes(buf[l3 + 12 : l3 + 16]))
        dst = socket.inet_ntop(socket.AF_INET, bytes(buf[l3 + 16 : l3 + 20]))
    elif ethertype == 0x86DD:
        if buf[l3 + 6] != socket.IPPROTO_TCP:
            return None
        ip_len = 40
        src = socket.inet_ntop(socket.AF_INET6, bytes(buf[l3 + 8 : l3 + 24]))
        dst = socket.inet_ntop(socket.AF_INET6, bytes(buf[l3 + 24 : l3 + 40]))
    else:
        return None
    l4 = l3 + ip_len
    sport, dport, seq, ack, doff_flags = struct.unpack_from("!HHIIH", buf, l4)
    if port and port not in (sport, dport):
        return None
    hdr = ip_len + (doff_flags >> 12) * 4
    # the frame's own length, not tot_len: a GSO batch's tot_len may be 0 (BIG TCP)
    payload = max(n - off - 14 - hdr, 0)
    segs = -(-payload // gso_size) if gso_size and payload > gso_size else 1
    return {
        "o": 1 if pkttype == PACKET_OUTGOING else 0,
        "s": src, "d": dst, "sp": sport, "dp": dport, "q": seq, "a": ack,
        "f": doff_flags & 0x1FF, "h": hdr, "p": payload, "n": segs,
    }


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: wire.py IFACE [PORT]")
    iface = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) == 3 else 0
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    # room for a long burst while this process waits for a CPU (root may force it)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 256 << 20)
    sock.bind((iface, ETH_P_ALL))
    out = sys.stdout

    def finish(*_):
        out.write(json.dumps({"stats": stats(sock)}) + "\n")
        out.flush()
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    print("ready", flush=True)
    buf = bytearray(SNAP)
    while True:
        n, addr = sock.recvfrom_into(buf, SNAP, socket.MSG_TRUNC)
        if n < VNET_HDR.size + 14 + 20:
            continue
        rec = parse(buf, n, addr[2], port)
        if rec is not None:
            out.write(json.dumps(rec, separators=(",", ":")) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
