#!/usr/bin/python3
"""Expands an RRULE with python-dateutil, independently of libical.

    expand_dateutil.py RULE DTSTART_LOCAL TZID [BEFORE_UTC]

RULE is an RFC 5545 recurrence rule ("FREQ=WEEKLY;BYDAY=TU;COUNT=10"),
DTSTART_LOCAL a local date-time ("2027-03-02T10:00:00") in zone TZID
("Europe/London"), read with dateutil.tz.gettz. Prints each instance's start
as a UTC instant ("2027-03-02T10:00:00Z"), one per line, in order; a rule
without COUNT or UNTIL stops before BEFORE_UTC. Run with /usr/bin/python3
(Debian's, which has python3-dateutil).
"""
import datetime
import sys

from dateutil import tz
from dateutil.rrule import rrulestr


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write(__doc__)
        return 2
    rule, start, tzid = argv[1], argv[2], argv[3]
    zone = tz.gettz(tzid)
    if zone is None:
        sys.stderr.write("unknown zone %s\n" % tzid)
        return 2
    dtstart = datetime.datetime.strptime(start, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=zone)
    before = None
    if len(argv) == 5:
        before = datetime.datetime.strptime(argv[4], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
    out = []
    for when in rrulestr(rule, dtstart=dtstart):
        utc = when.astimezone(datetime.timezone.utc)
        if before is not None and utc >= before:
            break
        out.append(utc.strftime("%Y-%m-%dT%H:%M:%SZ"))
        if len(out) > 1000:
            break
    sys.stdout.write("".join(line + "\n" for line in out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
