/**
 * A controlled TCP transfer between namespaces: a sink that reads and holds
 * connections open, and a client that sends exactly n bytes and then waits,
 * so that the kernel's socket counters can be read while nothing moves.
 */
import { sleep, start, type Running } from './exec.js';
import type { Lab } from './netns.js';

const sinkJs = `const net=require('net');const srv=net.createServer(s=>{s.on('data',()=>{});s.on('error',()=>{})});srv.listen(+process.argv[1],()=>console.log('listening'));`;
const sendJs = `const net=require('net');const [host,port,n]=process.argv.slice(1);const s=net.connect(+port,host,()=>{let left=+n;const chunk=Buffer.alloc(65536,7);(function w(){while(left>0){const k=Math.min(left,chunk.length);left-=k;if(!s.write(chunk.subarray(0,k))){s.once('drain',w);return}}console.log('sent')})()});s.on('error',e=>{console.error(e.message);process.exit(1)});`;

async function waitFor(r: Running, text: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!r.stdout().includes(text)) {
    if (Date.now() > deadline || r.proc.exitCode !== null) throw new Error(`waiting for "${text}": ${r.stderr()}`);
    await sleep(20);
  }
}

export async function startSink(lab: Lab, ns: string, port: number): Promise<Running> {
  const [cmd, args] = lab.argv(ns, process.execPath, ['-e', sinkJs, String(port)]);
  const r = start(cmd, args);
  await waitFor(r, 'listening');
  return r;
}

/** Sends n bytes and resolves once they are written; the connection stays open until stop(). */
export async function sendBytes(lab: Lab, ns: string, host: string, port: number, n: number): Promise<Running> {
  const [cmd, args] = lab.argv(ns, process.execPath, ['-e', sendJs, host, String(port), String(n)]);
  const r = start(cmd, args);
  await waitFor(r, 'sent', 30_000);
  return r;
}

