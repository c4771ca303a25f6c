#!/usr/bin/python3
"""Regenerates the broken fixtures from the two good ones (run from anywhere).

good_template.ics is ICAL.md section 6's template with its VTIMEZONE RRULEs in
the order libical 3.0.16 writes them (BYDAY before BYMONTH); good_feed.ics is a
Waymark-like feed as libical re-serialises it (two series across both 2027 DST
changes, EXDATE, a moved, a cancelled and an out-of-window override, one-offs
inside/outside the window, a cancelled one-off, folded UTF-8 text). Each bad_*
file breaks one rule; expect.txt names the check that must catch it.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def read(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return f.read()


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def sub(data, old, new, count=1):
    assert data.count(old) >= count, old
    return data.replace(old, new, count)


feed = read("good_feed.ics")
template = read("good_template.ics")

write("bad_lf.ics", feed.replace(b"\r\n", b"\n"))
# LOCATION line of exactly 76 octets, unfolded.
loc = b"LOCATION:" + b"x" * (76 - len(b"LOCATION:"))
assert len(loc) == 76
write("bad_long_line.ics", sub(feed, b"LOCATION:Town hall\r\n", loc + b"\r\n"))
write("bad_utf8.ics", sub(feed, b"SUMMARY:Open day\r\n", b"SUMMARY:Open \xc3\x28day\r\n"))
write("bad_control.ics", sub(feed, b"SUMMARY:Open day\r\n", b"SUMMARY:Open\x01day\r\n"))
write("bad_two_calendars.ics", feed + feed)
write("bad_missing_vtimezone.ics",
      sub(feed, b"DTSTART;TZID=Europe/London:20270601T100000\r\n",
          b"DTSTART;TZID=Europe/Paris:20270601T100000\r\n"))
write("bad_attendee.ics",
      sub(feed, b"LOCATION:Town hall\r\n",
          b"LOCATION:Town hall\r\nATTENDEE;CN=A Parent:mailto:parent@example.org\r\n"))
write("bad_duplicate_uid.ics",
      sub(feed, b"UID:session-102@waymark.invalid\r\n", b"UID:session-101@waymark.invalid\r\n"))
write("bad_dtstamp_local.ics",
      sub(feed, b"DTSTAMP:20270201T080000Z\r\n", b"DTSTAMP:20270201T080000\r\n"))
write("bad_until_local.ics",
      sub(feed, b"UNTIL=20270413T225959Z;", b"UNTIL=20270413T225959;"))
# ICAL.md's template verbatim: BYMONTH before BYDAY, which libical reorders.
write("bad_rrule_order.ics",
      sub(sub(template, b"BYDAY=-1SU;BYMONTH=3", b"BYMONTH=3;BYDAY=-1SU"),
          b"BYDAY=-1SU;BYMONTH=10", b"BYMONTH=10;BYDAY=-1SU"))
# A daily series at 01:30 across the 2027-03-28 spring gap: libical 3.0.16's
# iterator moves the nonexistent 01:30 to 02:30 and stays on 02:30 afterwards,
# ical.js and dateutil return to 01:30: the three expansions disagree.
head = template[:template.index(b"BEGIN:VEVENT")]
write("bad_dst_gap.ics", head + b"".join(line + b"\r\n" for line in [
    b"BEGIN:VEVENT",
    b"UID:session-1@waymark.invalid",
    b"DTSTAMP:20270110T093000Z",
    b"SEQUENCE:0",
    b"DTSTART;TZID=Europe/London:20270326T013000",
    b"DTEND;TZID=Europe/London:20270326T023000",
    b"RRULE:FREQ=DAILY;UNTIL=20270330T235959Z",
    b"SUMMARY:Night watch",
    b"END:VEVENT",
    b"END:VCALENDAR"]))
# 01:30 on 2027-10-31 happens twice in London: RFC 5545 means the first
# (00:30Z, vobject/dateutil), libical and ical.js take the second (01:30Z).
write("bad_ambiguous_time.ics",
      sub(sub(feed, b"DTSTART;TZID=Europe/London:20270601T100000\r\n",
              b"DTSTART;TZID=Europe/London:20271031T013000\r\n"),
          b"DTEND;TZID=Europe/London:20270601T110000\r\n",
          b"DTEND;TZID=Europe/London:20271031T023000\r\n"))
# 01:30 on 2027-03-28 does not exist in London.
write("bad_nonexistent_time.ics",
      sub(sub(feed, b"DTSTART;TZID=Europe/London:20270601T100000\r\n",
              b"DTSTART;TZID=Europe/London:20270328T013000\r\n"),
          b"DTEND;TZID=Europe/London:20270601T110000\r\n",
          b"DTEND;TZID=Europe/London:20270328T023000\r\n"))

# Two zones (libical 3.0.16 writes them back in reverse order, which the round
# trip accepts): a New York series across the US change (2027-03-14), before
# London's (2027-03-28).
NEW_YORK = b"".join(line + b"\r\n" for line in [
    b"BEGIN:VTIMEZONE",
    b"TZID:America/New_York",
    b"BEGIN:DAYLIGHT",
    b"TZNAME:EDT",
    b"TZOFFSETFROM:-0500",
    b"TZOFFSETTO:-0400",
    b"DTSTART:19700308T020000",
    b"RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3",
    b"END:DAYLIGHT",
    b"BEGIN:STANDARD",
    b"TZNAME:EST",
    b"TZOFFSETFROM:-0400",
    b"TZOFFSETTO:-0500",
    b"DTSTART:19701101T020000",
    b"RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11",
    b"END:STANDARD",
    b"END:VTIMEZONE"])
NY_SERIES = b"".join(line + b"\r\n" for line in [
    b"BEGIN:VEVENT",
    b"UID:series-9@waymark.invalid",
    b"DTSTAMP:20270110T093000Z",
    b"SEQUENCE:0",
    b"DTSTART;TZID=America/New_York:20270303T090000",
    b"DTEND;TZID=America/New_York:20270303T100000",
    b"RRULE:FREQ=WEEKLY;UNTIL=20270408T035959Z;BYDAY=WE",
    b"SUMMARY:Call with the New York team",
    b"END:VEVENT"])
two = sub(feed, b"END:VTIMEZONE\r\n", b"END:VTIMEZONE\r\n" + NEW_YORK)
two = sub(two, b"END:VCALENDAR\r\n", NY_SERIES + b"END:VCALENDAR\r\n")
write("good_two_zones.ics", two)
write("bad_two_zones_changed.ics",
      sub(two, b"RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3", b"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"))
