/**
 * The tcpulse command. Bad input: one line on stderr, exit 2, nothing
 * attached; a kernel that cannot run it (no BTF): one line, exit 3.
 * SIGINT/SIGTERM: detach everything, exit 0.
 */
import type { Agent } from './agent.js';
import { parseCli, usage } from './flags.js';
import { ConfigError, KernelError } from './errors.js';
import { createLogger } from './log.js';
import { version } from './paths.js';

async function main(): Promise<number> {
  let cli;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tcpulse: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (cli.kind === 'help') {
    process.stdout.write(usage + '\n');
    return 0;
  }
  if (cli.kind === 'version') {
    process.stdout.write(`tcpulse ${version}\n`);
    return 0;
  }
  const config = cli.config;
  const log = createLogger(config.logLevel);
  let agent: Agent;
  try {
    // the agent's modules (libbpf through FFI among them) load only to run it
    const [{ Agent }, { routeLibbpfLogs }] = await Promise.all([import('./agent.js'), import('./bpf/liblog.js')]);
    routeLibbpfLogs(log);
    agent = await Agent.start(config, log);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof KernelError) {
      process.stderr.write(`tcpulse: ${err.message}\n`);
      return err instanceof ConfigError ? 2 : 3;
    }
    log.error('start failed', { error: err });
    return 1;
  }
  log.info('started', { version, interfaces: config.interfaces });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      agent.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error('stop failed', { error: err });
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`tcpulse: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
