#!/usr/bin/python3
"""Expands the events of an iCalendar file with python3-vobject (dateutil underneath),
independently of libical and ical.js (ICAL.md 4.3 item 3).

    ical_vobject_expand.py FILE FROM TO

FROM and TO are UTC instants "YYYYMMDDTHHMMSSZ". Prints one line
"UID YYYYMMDDTHHMMSSZ" per instance starting in [FROM, TO), sorted bytewise:
series through getrruleset() (EXDATEs removed by dateutil), RECURRENCE-ID
overrides replacing their instance (moved to their DTSTART, or dropped when
STATUS:CANCELLED), one-off events unless STATUS:CANCELLED. Zones come only from
the feed's own VTIMEZONEs (registered with vobject before the events are read;
a TZID without one is an error, never a fallback to pytz). Exit 0 with the
list, 1 when the feed cannot be expanded, 2 on usage/I/O errors. Run with
/usr/bin/python3 (Debian's python3-vobject, python3-dateutil).
"""
import datetime
import re
import sys

import vobject
from vobject import icalendar as vical

UTC = datetime.timezone.utc
MAX_INSTANCES = 1000000


class Refused(Exception):
    pass


def parse_utc(s):
    try:
        return datetime.datetime.strptime(s, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        sys.stderr.write("ical_vobject_expand: %s is not YYYYMMDDTHHMMSSZ\n" % s)
        sys.exit(2)


def read_one(text):
    comps = list(vobject.readComponents(text))
    if len(comps) != 1 or comps[0].name != "VCALENDAR":
        raise Refused("the file does not hold exactly one VCALENDAR")
    return comps[0]


def instant(line, what):
    v = line.value
    if isinstance(v, list):
        v = v[0]
    if not isinstance(v, datetime.datetime):
        raise Refused("%s is a DATE" % what)
    if v.tzinfo is None:
        raise Refused("%s is floating" % what)
    return v.astimezone(UTC)


def status(ev):
    s = ev.contents.get("status")
    return s[0].value.strip().upper() if s else ""


TZID_PARAM = re.compile(r';TZID=(?:"([^"]*)"|([^;:,"]*))', re.IGNORECASE)


def unfolded_lines(text):
    return re.sub(r"\r?\n[ \t]", "", text).splitlines()


def tzids_used(lines):
    """TZID parameters of every content line (looking only before the value)."""
    out = set()
    for line in lines:
        quoted, end = False, len(line)
        for i, ch in enumerate(line):
            if ch == '"':
                quoted = not quoted
            elif ch == ":" and not quoted:
                end = i
                break
        for m in TZID_PARAM.finditer(line[:end]):
            out.add(m.group(1) if m.group(1) is not None else m.group(2))
    return out


def expand(text, start, end):
    # Pass 1: only the feed's VTIMEZONEs, turned into tzinfo by vobject/dateutil
    # (the events are not parsed twice).
    lines = unfolded_lines(text)
    blocks, inside = [], False
    for line in lines:
        if line.upper() == "BEGIN:VTIMEZONE":
            inside = True
        if inside:
            blocks.append(line)
        if line.upper() == "END:VTIMEZONE":
            inside = False
    zones = {}
    if blocks:
        raw = read_one("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "\r\n".join(blocks) +
                       "\r\nEND:VCALENDAR\r\n")
        for vtz in raw.contents.get("vtimezone", []):
            zones[vtz.tzid.value] = vtz.gettzinfo()
    missing = tzids_used(lines) - set(zones)
    if missing:
        raise Refused("TZID without VTIMEZONE: %s" % ", ".join(sorted(missing)))
    for tzid, tzinfo in zones.items():
        vical.registerTzid(tzid, tzinfo)
    # Pass 2: events read with those zones.
    cal = read_one(text)
    events = cal.contents.get("vevent", [])
    overrides = {}
    for ev in events:
        if "recurrence-id" in ev.contents:
            rid = instant(ev.contents["recurrence-id"][0], "RECURRENCE-ID")
            overrides[(ev.uid.value, rid)] = ev
    out = []
    for ev in events:
        if "recurrence-id" in ev.contents:
            continue
        uid = ev.uid.value
        if "rdate" in ev.contents:
            raise Refused("%s: RDATE is not supported" % uid)
        dtstart = instant(ev.dtstart, "%s DTSTART" % uid)
        if "rrule" not in ev.contents:
            if status(ev) != "CANCELLED" and start <= dtstart < end:
                out.append((uid, dtstart))
            continue
        if len(ev.contents["rrule"]) > 1:
            raise Refused("%s: more than one RRULE" % uid)
        # Overrides may move an instance from beyond TO into the window.
        bound = max([end] + [r for (u, r) in overrides if u == uid])
        n = 0
        for when in ev.getrruleset(addRDate=True):
            when = when.astimezone(UTC)
            if when > bound:
                break
            n += 1
            if n > MAX_INSTANCES:
                raise Refused("%s: more than %d instances" % (uid, MAX_INSTANCES))
            ov = overrides.get((uid, when))
            if ov is not None:
                if status(ov) == "CANCELLED":
                    continue
                when = instant(ov.dtstart, "%s override DTSTART" % uid)
            elif status(ev) == "CANCELLED":
                continue
            if start <= when < end:
                out.append((uid, when))
    lines = sorted(("%s %s\n" % (u, w.strftime("%Y%m%dT%H%M%SZ"))).encode("utf-8")
                   for u, w in out)
    return b"".join(lines)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    start, end = parse_utc(argv[2]), parse_utc(argv[3])
    try:
        with open(argv[1], "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        sys.stderr.write("ical_vobject_expand: %s\n" % e)
        return 2
    try:
        data = expand(text, start, end)
    except Refused as e:
        sys.stderr.write("vobject: %s\n" % e)
        return 1
    except Exception as e:  # vobject's parse errors have no common base class
        sys.stderr.write("vobject: %s: %s\n" % (type(e).__name__, e))
        return 1
    sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
