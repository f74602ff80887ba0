#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A NIC that hands up GSO packets, as virtio-net does on most clouds
(test/helpers/tap.ts): a TAP device with IFF_VNET_HDR, written with
virtio-net headers that carry GSO, as a hypervisor writes them. The kernel
takes such a packet as one skb with gso_size set and gso_segs still 0
(SKB_GSO_DODGY: virtio_net_hdr_to_skb() leaves the count for later).

    tap.py IFNAME

Creates the device (it lives as long as this process), prints "ready" and
the MAC address its frames come from (the device's peer: give the kernel a
neighbour entry for SRC with it so that answers go out),
then for each line "SRC DST SPORT DPORT SEQ PAYLOAD GSO_SIZE" on stdin
writes one TCP packet (IPv4, timestamps option, ACK|PSH) of PAYLOAD bytes
with a TCP GSO header of GSO_SIZE (0: none), and answers with a JSON line:
the segments and layer-3 bytes it stands for on a wire.
"""
import fcntl
import json
import os
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
VIRTIO_NET_HDR_GSO_TCPV4 = 1
TCP_HDR = 32  # 20 + timestamps (NOP, NOP, kind 8)
PEER_MAC = bytes([0x02, 0x00, 0x00, 0x00, 0x70, 0x01])  # locally administered


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def packet(src, dst, sport, dport, seq, payload, gso_size, macs):
    total = 20 + TCP_HDR + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, socket.IPPROTO_TCP, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", 0xFFFF ^ csum(ip)) + ip[12:]
    opts = struct.pack("!BBBBII", 1, 1, 8, 10, 1000, 2000)
    # CHECKSUM_PARTIAL: the field holds the pseudo-header sum, the device finishes it
    pseudo = csum(socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_TCP, TCP_HDR + payload))
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, (TCP_HDR // 4) << 4, 0x18, 512, pseudo, 0) + opts
    segs = 1
    if gso_size and payload > gso_size:
        segs = -(-payload // gso_size)
        vnet = struct.pack("<BBHHHH", VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 14 + 20 + TCP_HDR, gso_size, 14 + 20, 16)
    else:
        vnet = struct.pack("<BBHHHH", VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 14 + 20, 16)
    eth = macs + struct.pack("!H", 0x0800)
    return vnet + eth + ip + tcp + b"\x07" * payload, {"segments": segs, "bytes": payload + segs * (20 + TCP_HDR)}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tap.py IFNAME")
    name = sys.argv[1]
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
    with open(f"/sys/class/net/{name}/address") as f:
        dst_mac = bytes.fromhex(f.read().strip().replace(":", ""))
    macs = dst_mac + PEER_MAC
    print("ready", ":".join(f"{b:02x}" for b in PEER_MAC), flush=True)
    for line in sys.stdin:
        src, dst, sport, dport, seq, payload, gso_size = line.split()
        frame, wire = packet(src, dst, int(sport), int(dport), int(seq), int(payload), int(gso_size), macs)
        os.write(fd, frame)
        print(json.dumps(wire), flush=True)


if __name__ == "__main__":
    main()
