// feed_bench_ics.mjs — ics@3.12.0 building the same feed as tests/bench/ical_bare.c,
// for tests/bench/feed_bench.sh (not a test).
//
//   node tests/bench/feed_bench_ics.mjs EVENTS.tsv [RUNS] [OUT.ics]
//
// EVENTS.tsv as ical_bare.c reads it (id, dtstamp_utc, dtstart_local, dtend_local,
// dtstart_utc, dtend_utc, sequence, title, location). ics has no TZID support, so
// times are given and written in UTC (ICAL.md 5 measured it the same way). Reading
// the file is not timed; createEvents() is, RUNS times (default 7) after two
// warm-up runs. Prints: bytes=N events=E runs=R median_ms=T cpu_ms=C (medians of
// wall-clock time and of the process's CPU time, all threads).
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createEvents } from 'ics';

const [file, runsArg, out] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: feed_bench_ics.mjs EVENTS.tsv [RUNS] [OUT.ics]\n');
  process.exit(2);
}
const runs = Number(runsArg || 7);
const ms = (s) => Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(9, 11),
  +s.slice(11, 13), +s.slice(13, 15));
const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t'));

function build() {
  const events = rows.map((c) => ({
    uid: `session-${c[0]}@waymark.invalid`,
    timestamp: ms(c[1]),
    lastModified: ms(c[1]),
    sequence: Number(c[6]),
    start: ms(c[4]), startInputType: 'utc', startOutputType: 'utc',
    end: ms(c[5]), endInputType: 'utc', endOutputType: 'utc',
    title: c[7],
    ...(c[8] ? { location: c[8] } : {}),
    status: 'CONFIRMED',
  }));
  const { error, value } = createEvents(events, {
    productId: '-//Waymark//Calendar Feeds 0.1//EN', calName: 'Bench programme', method: '',
  });
  if (error) throw error;
  return value;
}

let text = '';
const times = [];
const cpus = [];
for (let r = -2; r < runs; r++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  text = build();
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  if (r >= 0) {
    times.push(t1 - t0);
    cpus.push((c1.user + c1.system) / 1000);
  }
}
if (out) writeFileSync(out, text);
const median = (v) => {
  v.sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
process.stdout.write(`bytes=${Buffer.byteLength(text)} events=${rows.length} runs=${runs} ` +
  `median_ms=${median(times).toFixed(2)} cpu_ms=${median(cpus).toFixed(2)}\n`);
