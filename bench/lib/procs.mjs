// CPU and memory of processes from /proc, for the Node benchmarks (bench/latency,
// bench/egress). CPU is utime+stime in seconds; diff two snapshots over a window and
// divide by its length for "% of one core".
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { execFileSync } from 'node:child_process';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const PAGE_KB = Number(execFileSync('getconf', ['PAGESIZE']).toString().trim()) / 1024 || 4;

// The 1/5/15-minute load averages, as printed.
export const loadAverage = () => loadavg().map((x) => x.toFixed(2)).join(' ');

// {pid, comm, ppid, cpu (s), rssKb} of one process, or null once it is gone.
export function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields from 3 on: state(0) ppid(1) … utime(11) stime(12) … rss(21)
    return { pid: Number(pid), comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), ppid: Number(rest[1]),
      cpu: (Number(rest[11]) + Number(rest[12])) / CLK_TCK, rssKb: Number(rest[21]) * PAGE_KB };
  } catch { return null; }
}

export function allProcs() {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(procStat).filter(Boolean);
}

// Every descendant of `root` (by ppid), optionally filtered.
export function descendants(root, pred = () => true) {
  const procs = allProcs();
  const kids = new Map();
  for (const p of procs) {
    if (!kids.has(p.ppid)) kids.set(p.ppid, []);
    kids.get(p.ppid).push(p);
  }
  const out = [];
  const walk = (pid) => { for (const c of kids.get(pid) || []) { out.push(c); walk(c.pid); } };
  walk(root);
  return out.filter(pred);
}

export const cmdline = (pid) => {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch { return []; }
};

function statusKb(pid, field) {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch { return NaN; }
}
export const vmHwmKb = (pid) => statusKb(pid, 'VmHWM');
export const vmRssKb = (pid) => statusKb(pid, 'VmRSS');

// browser, renderer, gpu-process, utility:<sub-type>, zygote… from the command line
// (Chromium rewrites its children's argv: match in the whole command line.)
export function chromiumType(pid) {
  const line = cmdline(pid).join(' ');
  const type = /--type=(\S+)/.exec(line);
  const sub = /--utility-sub-type=(\S+)/.exec(line);
  if (sub) return `utility:${sub[1].split('.')[0]}`;
  return type ? type[1] : 'browser';
}

// CPU seconds of a set of processes now (by pid), to diff over a window: processes
// that appear during the window count from 0, those that vanish are lost (noted).
export function cpuSnapshot(procs) { return new Map(procs.map((p) => [p.pid, p.cpu])); }
export function cpuDelta(before, after, typeOf = chromiumType) {
  let sum = 0;
  let gone = 0;
  const byType = {};
  for (const [pid, c] of after) {
    const d = c - (before.get(pid) ?? 0);
    sum += d;
    const k = typeOf(pid);
    byType[k] = (byType[k] || 0) + d;
  }
  for (const pid of before.keys()) if (!after.has(pid)) gone += 1;
  return { sum, gone, byType };
}

// "renderer 40.1, browser 12.0, …": CPU seconds by type as % of one core over `secs`.
export const shares = (byType, secs) => Object.entries(byType).filter(([, v]) => v > 0)
  .sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${((100 * v) / secs).toFixed(1)}`).join(', ');

// Chromium's processes started by this Node process (playwright launches them).
export const chromiumProcs = () => descendants(process.pid, (p) => /chrom/i.test(p.comm));

// The `amphi egress` child of a serve started by the e2e harness, or null.
export function egressProc(serve) {
  return descendants(serve.child.pid, (p) => cmdline(p.pid)[1] === 'egress')[0] || null;
}

// CPU seconds of every thread of a process now: Map(tid → {comm, cpu}). GStreamer names
// its streaming threads after the element pad (e.g. "x264enc0:src"), so a diff of two of
// these shows where an egress spends its time.
export function threadCpu(pid) {
  const out = new Map();
  let tids = [];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    const s = procStat(`${pid}/task/${tid}`);
    if (s) out.set(tid, { comm: s.comm, cpu: s.cpu });
  }
  return out;
}

// "vmix:src 19.2, pool-amphi×3 15.8, …": the `top` busiest thread names (threads of the
// same name summed) between two threadCpu() snapshots, as % of one core over `secs`.
// "×N" after a name: N threads of that name.
export function threadShares(before, after, secs, top = 8) {
  const byName = {};
  const count = {};
  for (const [tid, t] of after) {
    const d = t.cpu - (before.get(tid)?.cpu ?? 0);
    byName[t.comm] = (byName[t.comm] || 0) + d;
    count[t.comm] = (count[t.comm] || 0) + 1;
  }
  return Object.entries(byName).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, v]) => `${k}${count[k] > 1 ? `×${count[k]}` : ''} ${((100 * v) / secs).toFixed(1)}`).join(', ');
}
