/**
 * A controlled TCP transfer between namespaces: a sink that reads and holds
 * connections open, and a client that sends exactly n bytes and then waits,
 * so that the kernel's socket counters can be read while nothing moves.
 */
import { start, TIME_SCALE, waitForOutput, type Running } from './exec.js';
import type { LabLike as Lab } from './agent.js';

const sinkJs = `const net=require('net');const srv=net.createServer(s=>{s.on('data',()=>{});s.on('error',()=>{})});srv.listen(+process.argv[1],()=>console.log('listening'));`;
const sendJs = `const net=require('net');const [host,port,n]=process.argv.slice(1);const s=net.connect(+port,host,()=>{let left=+n;const chunk=Buffer.alloc(65536,7);(function w(){while(left>0){const k=Math.min(left,chunk.length);left-=k;if(!s.write(chunk.subarray(0,k))){s.once('drain',w);return}}console.log('sent')})()});s.on('error',e=>{console.error(e.message);process.exit(1)});`;


export async function startSink(lab: Lab, ns: string, port: number): Promise<Running> {
  const [cmd, args] = lab.argv(ns, process.execPath, ['-e', sinkJs, String(port)]);
  const r = start(cmd, args);
  await waitForOutput(r, 'listening');
  return r;
}

/** Sends n bytes and resolves once they are written; the connection stays open until stop(). */
export async function sendBytes(lab: Lab, ns: string, host: string, port: number, n: number): Promise<Running> {
  const [cmd, args] = lab.argv(ns, process.execPath, ['-e', sendJs, host, String(port), String(n)]);
  const r = start(cmd, args);
  await waitForOutput(r, 'sent', 30_000 * TIME_SCALE);
  return r;
}


/**
 * n short connections from ns to host, round-robin over ports, 50 at a
 * time; each sends `bytes` and closes (reset: with a RST instead of a FIN).
 */
const burstJs = `const net=require('net');const [host,n,bytes,reset,...ports]=process.argv.slice(1);
function one(i){return new Promise(r=>{const s=net.connect(+ports[i%ports.length],host,()=>{s.write(Buffer.alloc(+bytes,1),()=>{if(reset==='1')setTimeout(()=>s.resetAndDestroy(),20);else s.end()})});s.on('close',r);s.on('error',r)})}
(async()=>{for(let i=0;i<+n;i+=50){await Promise.all(Array.from({length:Math.min(50,+n-i)},(_,k)=>one(i+k)))}console.log('done')})()`;

export async function burst(lab: Lab, ns: string, host: string, n: number, ports: number[], opts: { bytes?: number; reset?: boolean } = {}): Promise<Running> {
  const [cmd, args] = lab.argv(ns, process.execPath, ['-e', burstJs, host, String(n), String(opts.bytes ?? 2048), opts.reset ? '1' : '0', ...ports.map(String)]);
  const r = start(cmd, args);
  await waitForOutput(r, 'done', 120_000 * TIME_SCALE);
  return r;
}
