/**
 * The traffic of bench/scale.ts, run inside a namespace (not a benchmark
 * itself):
 *
 *   scale-load.ts server BASE K          listen on ports BASE..BASE+K-1, echo what comes
 *   scale-load.ts client HOST BASE K N   N connections over the K ports, 64 bytes on each
 *                                        once a second (spread over the second), echoes read
 *
 * The client connects at most 128 at a time (no SYN backlog overflows) and
 * prints "ready N" when all are up; both print "error ..." on stderr and
 * exit 1 on anything unexpected (a reset, a refused connect).
 */
import { connect, createServer, type Socket } from 'node:net';

const [role, ...args] = process.argv.slice(2);
const fail = (what: string) => {
  process.stderr.write(`error ${what}\n`);
  process.exit(1);
};

const PAYLOAD = Buffer.alloc(64, 0x61);
const PENDING = 128;
const TICK_MS = 10;

if (role === 'server') {
  const [base, k] = args.map(Number) as [number, number];
  let listening = 0;
  for (let p = base; p < base + k; p++) {
    createServer((s) => {
      s.on('data', (d) => s.write(d));
      s.on('error', () => s.destroy()); // the client going away at the end
    })
      .on('error', (e) => fail(`listen ${p}: ${e.message}`))
      .listen({ port: p, backlog: 65535 }, () => {
        if (++listening === k) process.stdout.write(`listening ${k}\n`);
      });
  }
} else if (role === 'client') {
  const [host, ...nums] = args;
  const [base, k, n] = nums.map(Number) as [number, number, number];
  const socks: Socket[] = [];
  let opened = 0;
  let up = 0;
  const openMore = () => {
    while (opened < n && opened - up < PENDING) {
      const port = base + (opened % k);
      opened++;
      const s = connect({ host, port }, () => {
        socks.push(s);
        if (++up === n) {
          process.stdout.write(`ready ${n}\n`);
          startSending();
        } else openMore();
      });
      s.setNoDelay(true);
      s.on('data', () => {});
      s.on('error', (e) => fail(`connection to ${port}: ${e.message}`));
    }
  };
  // every tick a slice of the sockets sends: each once per second
  const startSending = () => {
    const perTick = Math.ceil((socks.length * TICK_MS) / 1000);
    let next = 0;
    setInterval(() => {
      for (let i = 0; i < perTick; i++) {
        socks[next]!.write(PAYLOAD);
        next = (next + 1) % socks.length;
      }
    }, TICK_MS);
  };
  openMore();
} else {
  process.stderr.write('usage: scale-load.ts server BASE K | client HOST BASE K N\n');
  process.exit(2);
}
