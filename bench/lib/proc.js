// What the kernel knows about a server process: CPU time used and peak resident memory (Linux /proc).
'use strict';
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on most kernels). */
function clockTicksPerSecond() {
  return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
}

/** User + system CPU time of the process (all its threads), in clock ticks. */
function cpuTicks(pid) {
  // The command name in field 2 may hold spaces, so fields are counted after its closing parenthesis.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
}

/** Peak resident set size so far (VmHWM), in MB. */
function peakRssMb(pid) {
  const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

module.exports = { clockTicksPerSecond, cpuTicks, peakRssMb };
