// icaljs_check.mjs — ical.js 2.2.1 (Thunderbird's parser, independent of libical)
// judges an iCalendar file (ICAL.md 4.3 item 2).
//
//   node tests/tools/icaljs_check.mjs FILE
//       Parses FILE strictly and asserts on ical.js's model: one VCALENDAR;
//       exactly one PRODID and one VERSION (2.0); every VEVENT has exactly one UID
//       and one DTSTAMP, DTSTAMP in UTC; DTSTART present (no METHOD is used);
//       never both DTEND and DURATION; every TZID parameter has a VTIMEZONE; no
//       ATTENDEE anywhere; a UID appears on at most one VEVENT without
//       RECURRENCE-ID, (UID, RECURRENCE-ID) pairs are unique and every override
//       has its master; RRULE UNTIL is UTC; no DTSTART/DTEND/RECURRENCE-ID/EXDATE
//       local time that its zone skips or repeats (clients disagree on those:
//       Waymark writes such instants in UTC). Prints each failure, exits 1 on any.
//   node tests/tools/icaljs_check.mjs FILE --expand FROM TO
//       Prints "UID YYYYMMDDTHHMMSSZ" for each instance starting in [FROM, TO)
//       (UTC, "YYYYMMDDTHHMMSSZ"), sorted, expanded with Event.iterator() in the
//       feed's own VTIMEZONEs: EXDATEs removed, RECURRENCE-ID overrides applied
//       (moved to their DTSTART, or dropped when STATUS:CANCELLED), cancelled
//       one-offs dropped. Same format as ical_libical expand and
//       ical_vobject_expand.py.
// ical.js resolves from the repository's node_modules (npm ci at the root).
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';

const MAX_INSTANCES = 1000000;

function usage() {
  process.stderr.write('usage: icaljs_check.mjs FILE [--expand FROM TO]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
if (!(args.length === 1 || (args.length === 4 && args[1] === '--expand'))) usage();
const file = args[0];
let text;
try {
  text = readFileSync(file, 'utf8');
} catch (e) {
  process.stderr.write(`icaljs_check: ${e.message}\n`);
  process.exit(2);
}

const failures = [];
const fail = (msg) => failures.push(msg);

let jcal;
try {
  jcal = ICAL.parse(text);
} catch (e) {
  process.stderr.write(`ical.js: parse error: ${e.message}\n`);
  process.exit(1);
}
// ICAL.parse returns one component, or an array when the stream holds several.
if (!Array.isArray(jcal) || Array.isArray(jcal[0])) {
  process.stderr.write('ical.js: the stream does not hold exactly one component\n');
  process.exit(1);
}
const vcal = new ICAL.Component(jcal);
if (vcal.name !== 'vcalendar') {
  process.stderr.write(`ical.js: top-level component is ${vcal.name}, not vcalendar\n`);
  process.exit(1);
}

// Register the feed's own zones (and only those) before any time is read.
const zones = new Set();
for (const vtz of vcal.getAllSubcomponents('vtimezone')) {
  const tzid = vtz.getFirstPropertyValue('tzid');
  if (!tzid) {
    fail('VTIMEZONE without TZID');
    continue;
  }
  if (zones.has(tzid)) fail(`two VTIMEZONEs with TZID ${tzid}`);
  zones.add(tzid);
  ICAL.TimezoneService.register(vtz);
}

const uidOf = (c) => c.getFirstPropertyValue('uid');
const ridKey = (c) => {
  const p = c.getFirstProperty('recurrence-id');
  return p ? `${p.getParameter('tzid') || ''}|${String(p.jCal[3])}` : null;
};
// Raw jCal value: date-time strings keep their 'Z' there.
const rawValue = (p) => p.jCal[3];

function structure() {
  for (const name of ['prodid', 'version']) {
    const n = vcal.getAllProperties(name).length;
    if (n !== 1) fail(`VCALENDAR has ${n} ${name.toUpperCase()} properties (exactly one expected)`);
  }
  if (vcal.getFirstPropertyValue('version') !== '2.0') fail('VERSION is not 2.0');
  const method = vcal.getFirstProperty('method');

  // Every property of every component, for the TZID and ATTENDEE rules.
  const walk = (c) => {
    for (const p of c.getAllProperties()) {
      const tzid = p.getParameter('tzid');
      if (tzid !== undefined && tzid !== null && !zones.has(tzid))
        fail(`${c.name.toUpperCase()} ${p.name.toUpperCase()}: TZID ${tzid} has no VTIMEZONE`);
      if (p.name === 'attendee') fail(`ATTENDEE in ${c.name.toUpperCase()} ${uidOf(c) || ''}`);
    }
    for (const k of c.getAllSubcomponents()) walk(k);
  };
  walk(vcal);

  // A local time the feed's zone skips (spring gap) or repeats (autumn fold):
  // RFC 5545 reads a repeated one as its first occurrence, libical and ical.js
  // take the second, so such instants must be written in UTC.
  const offsets = new Map();
  for (const vtz of vcal.getAllSubcomponents('vtimezone')) {
    const set = new Set();
    for (const obs of vtz.getAllSubcomponents())
      for (const name of ['tzoffsetfrom', 'tzoffsetto'])
        for (const p of obs.getAllProperties(name)) set.add(p.getFirstValue().toSeconds());
    offsets.set(vtz.getFirstPropertyValue('tzid'), set);
  }
  const checkLocal = (ev, uid) => {
    for (const name of ['dtstart', 'dtend', 'recurrence-id', 'exdate']) {
      for (const p of ev.getAllProperties(name)) {
        const tzid = p.getParameter('tzid');
        const zone = tzid && ICAL.TimezoneService.get(tzid);
        if (!zone || p.type !== 'date-time') continue;
        for (const t of p.getValues()) {
          const naive = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) / 1000;
          let matches = 0;
          for (const off of offsets.get(tzid) || []) {
            const u = new ICAL.Time();
            u.fromUnixTime(naive - off);
            const b = u.convertToZone(zone);
            if (b.year === t.year && b.month === t.month && b.day === t.day &&
                b.hour === t.hour && b.minute === t.minute && b.second === t.second)
              matches++;
          }
          if (matches !== 1)
            fail(`VEVENT ${uid}: ${name.toUpperCase()} ${t.toICALString()} (${tzid}) ` +
              `${matches ? 'occurs twice (ambiguous)' : 'does not exist'} in that zone; ` +
              'write such instants in UTC');
        }
      }
    }
  };

  const masters = new Map();
  const overrides = new Map();
  for (const ev of vcal.getAllSubcomponents('vevent')) {
    const uids = ev.getAllProperties('uid');
    const uid = uids.length ? String(uids[0].getFirstValue()) : '(no UID)';
    if (uids.length !== 1) fail(`VEVENT ${uid}: ${uids.length} UID properties`);
    const stamps = ev.getAllProperties('dtstamp');
    if (stamps.length !== 1) fail(`VEVENT ${uid}: ${stamps.length} DTSTAMP properties`);
    for (const s of stamps) {
      const v = rawValue(s);
      if (typeof v !== 'string' || !v.endsWith('Z') || s.getParameter('tzid'))
        fail(`VEVENT ${uid}: DTSTAMP ${v} is not UTC`);
    }
    if (!method && ev.getAllProperties('dtstart').length !== 1)
      fail(`VEVENT ${uid}: ${ev.getAllProperties('dtstart').length} DTSTART properties`);
    if (ev.hasProperty('dtend') && ev.hasProperty('duration'))
      fail(`VEVENT ${uid}: both DTEND and DURATION`);
    for (const r of ev.getAllProperties('rrule')) {
      const until = r.getFirstValue().until;
      const start = ev.getFirstProperty('dtstart');
      const dateOnly = start && start.type === 'date';
      if (until && !dateOnly && !until.isDate && until.zone !== ICAL.Timezone.utcTimezone)
        fail(`VEVENT ${uid}: RRULE UNTIL ${until.toICALString()} is not UTC`);
    }
    if (ev.getAllProperties('rrule').length > 1) fail(`VEVENT ${uid}: more than one RRULE`);
    checkLocal(ev, uid);
    const rid = ridKey(ev);
    if (rid === null) {
      if (masters.has(uid)) fail(`UID ${uid} on two VEVENTs without RECURRENCE-ID`);
      masters.set(uid, ev);
    } else {
      const key = `${uid}#${rid}`;
      if (overrides.has(key)) fail(`UID ${uid}: two overrides with the same RECURRENCE-ID`);
      overrides.set(key, ev);
    }
  }
  for (const ov of overrides.values())
    if (!masters.has(uidOf(ov))) fail(`override of UID ${uidOf(ov)} has no master VEVENT`);
}

function parseUtcArg(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) {
    process.stderr.write(`icaljs_check: ${s} is not YYYYMMDDTHHMMSSZ\n`);
    process.exit(2);
  }
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
}

function fmtUtc(unix) {
  return new Date(unix * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

// A start's UTC instant; floating times and DATEs are refused, as Waymark never
// emits them (ical.js would read them in the machine's zone).
function instant(t, what) {
  if (t.isDate) throw new Error(`${what} is a DATE`);
  if (t.zone === ICAL.Timezone.localTimezone || !t.zone)
    throw new Error(`${what} is floating or its TZID is unknown`);
  return t.toUnixTime();
}

function expand(fromS, toS) {
  const from = parseUtcArg(fromS);
  const to = parseUtcArg(toS);
  const events = vcal.getAllSubcomponents('vevent');
  const out = [];
  const byUid = new Map(); // UID -> its overrides
  for (const e of events) {
    if (!e.hasProperty('recurrence-id')) continue;
    const u = String(uidOf(e));
    if (!byUid.has(u)) byUid.set(u, []);
    byUid.get(u).push(e);
  }
  for (const comp of events) {
    if (comp.hasProperty('recurrence-id')) continue;
    const uid = String(uidOf(comp));
    if (comp.hasProperty('rdate')) throw new Error(`${uid}: RDATE is not supported`);
    const exceptions = byUid.get(uid) || [];
    const ev = new ICAL.Event(comp, { strictExceptions: true, exceptions });
    const cancelled = (c) => String(c.getFirstPropertyValue('status') || '').toUpperCase() ===
      'CANCELLED';
    const start = instant(ev.startDate, `${uid} DTSTART`);
    if (!ev.isRecurring()) {
      if (!cancelled(comp) && start >= from && start < to) out.push([uid, start]);
      continue;
    }
    // Overrides may move an instance from beyond TO into the window.
    let bound = to;
    for (const x of exceptions)
      bound = Math.max(bound, instant(x.getFirstPropertyValue('recurrence-id'),
        `${uid} RECURRENCE-ID`));
    const it = ev.iterator();
    let n = 0;
    for (let occ = it.next(); occ; occ = it.next()) {
      const when = instant(occ, `${uid} instance`);
      if (when > bound) break;
      if (++n > MAX_INSTANCES) throw new Error(`${uid}: more than ${MAX_INSTANCES} instances`);
      const d = ev.getOccurrenceDetails(occ);
      const item = d.item.component;
      if (cancelled(item)) continue;
      const s = item === comp ? when : instant(d.startDate, `${uid} override DTSTART`);
      if (s >= from && s < to) out.push([uid, s]);
    }
  }
  // Sorted bytewise, as sort(1) with LC_ALL=C would.
  const lines = out.map(([u, s]) => Buffer.from(`${u} ${fmtUtc(s)}\n`, 'utf8'));
  lines.sort(Buffer.compare);
  process.stdout.write(Buffer.concat(lines));
}

try {
  if (args.length === 4) expand(args[2], args[3]);
  else structure();
} catch (e) {
  failures.push(e.message);
}
for (const f of failures) process.stderr.write(`ical.js: ${f}\n`);
// exitCode, not exit(): lets a large stdout drain first.
process.exitCode = failures.length ? 1 : 0;
