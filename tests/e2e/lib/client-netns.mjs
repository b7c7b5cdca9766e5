// A second network namespace for a "remote" browser (the TURN test and bench): see
// startClientNamespace. Runs inside tests/e2e/netns-run.sh's namespace, like harness.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM, spawnLogged, stopProcess, tempDir, waitUntil } from './harness.mjs';

function run(cmd, args, { input } = {}) {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.status} ${r.stderr || r.error}`);
  return r.stdout;
}

// A second network namespace for a "remote" browser, inside netns-run.sh's one: the
// veth peer v1 moves into it with 10.99.0.2/24, so it reaches serve, Janus and coturn
// at 10.99.0.1 over the veth pair. With dropUdp, nftables in that namespace drops every
// UDP packet in and out (a UDP-blocking firewall). Returns {ip, pid, chromium (a wrapper
// that runs Chromium in there), setDropUdp(on) (adds or removes those rules),
// udpDropped() (packets the rules dropped so far), stop()}.
export async function startClientNamespace({ ip = '10.99.0.2', dropUdp = true } = {}) {
  const holder = spawnLogged('unshare', ['--net', '--', 'sleep', 'infinity']);
  const pid = String(holder.pid);
  const ours = readlinkSync('/proc/self/ns/net');
  await waitUntil(() => existsSync(`/proc/${pid}/ns/net`) && readlinkSync(`/proc/${pid}/ns/net`) !== ours,
    { timeoutMs: 5000, intervalMs: 20, what: 'client namespace' });
  const inNs = (cmd, args, opts) => run('nsenter', ['-t', pid, '-n', cmd, ...args], opts);
  run('ip', ['link', 'set', 'v1', 'netns', pid]);
  inNs('ip', ['link', 'set', 'lo', 'up']);
  inNs('ip', ['addr', 'add', `${ip}/24`, 'dev', 'v1']);
  inNs('ip', ['link', 'set', 'v1', 'up']);
  let dropping = false;
  const setDropUdp = (on) => {
    if (on === dropping) return;
    if (on) {
      inNs('nft', ['-f', '-'], { input: `table inet amphi_e2e {
  chain output { type filter hook output priority 0; policy accept; meta l4proto udp counter drop; }
  chain input { type filter hook input priority 0; policy accept; meta l4proto udp counter drop; }
}
` });
    } else {
      inNs('nft', ['delete', 'table', 'inet', 'amphi_e2e']);
    }
    dropping = on;
  };
  setDropUdp(dropUdp);
  await waitUntil(() => /state UP/.test(run('ip', ['-o', 'link', 'show', 'v0'])),
    { timeoutMs: 5000, intervalMs: 50, what: 'v0 up after moving v1' });
  const dir = tempDir('client-ns');
  const chromium = join(dir, 'chromium-in-ns.sh');
  writeFileSync(chromium, `#!/bin/sh\nexec nsenter -t ${pid} -n ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  return {
    ip, pid, chromium,
    setDropUdp,
    udpDropped: () => {
      if (!dropping) return 0;
      const text = inNs('nft', ['list', 'table', 'inet', 'amphi_e2e']);
      return [...text.matchAll(/counter packets (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    },
    stop: async () => {
      await stopProcess(holder, { signal: 'SIGKILL', timeoutMs: 3000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
