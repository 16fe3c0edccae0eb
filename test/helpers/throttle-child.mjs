// Throttles a process as a container's CPU limit does (CFS bandwidth control): each period the process may use
// `quota` ms of CPU (all its threads); once it has, it is stopped (SIGSTOP) until the period ends. With quota 0 it
// is stopped `stop` ms at the start of every period instead, whatever it does (cpulimit-style duty cycle).
// Prints `throttled <periods> <ms stopped>` when it ends (SIGTERM), and always leaves the process continued.
// argv: pid periodMs quotaMs stopMs
import { readFileSync, readdirSync } from 'node:fs';

const [pid, period, quota, stopFor] = process.argv.slice(2).map(Number);
const cell = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => ms > 0 && Atomics.wait(cell, 0, 0, ms);
/** CPU time of every thread of the process, ms (schedstat: ns on the CPU first). */
const cpuMs = () => {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* the thread ended */
    }
  }
  return ns / 1e6;
};

let running = true;
let periods = 0;
let stoppedMs = 0;
process.on('SIGTERM', () => (running = false));
const stopUntil = (end) => {
  process.kill(pid, 'SIGSTOP');
  const from = performance.now();
  try {
    sleep(end - from);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  periods++;
  stoppedMs += performance.now() - from;
};
const cycle = () => {
  const start = performance.now();
  const end = start + period;
  if (quota === 0) {
    stopUntil(start + stopFor);
  } else {
    const base = cpuMs();
    while (performance.now() < end) {
      if (cpuMs() - base >= quota) {
        stopUntil(end);
        break;
      }
      sleep(1);
    }
  }
  sleep(end - performance.now());
  // between periods, so that SIGTERM's handler can run
  if (running) setImmediate(cycle);
  else {
    process.stdout.write(`throttled ${periods} ${Math.round(stoppedMs)}\n`);
    process.exit(0);
  }
};
cycle();
