#!/usr/bin/python3
"""Byte-level checks of an iCalendar file, standard library only (ICAL.md 4.3 item 1).

    ical_bytecheck.py FILE

Checks: valid UTF-8 (each physical line on its own, so folding never splits a
character); CRLF after every line including the last, and no other CR or LF;
75 octets or fewer per physical line (CRLF not counted); no control characters
(C0 and DEL; a TAB only as the folding character at the start of a
continuation line); every logical line (after unfolding) starts with
NAME[;PARAM=VALUE...]: ; BEGIN/END balanced and matching; exactly one
top-level VCALENDAR with nothing outside it. Prints every problem found as
"FILE:LINE: message" and exits 1 if there was one, 0 if none, 2 on usage/I/O.
"""
import re
import sys

MAX_OCTETS = 75
NAME = r"[A-Za-z0-9-]+"
PARAM_VALUE = r'(?:"[^"\x00-\x1f\x7f]*"|[^";:,\x00-\x1f\x7f]*)'
CONTENT_LINE = re.compile(
    r"^(%s)(?:;%s=%s(?:,%s)*)*:" % (NAME, NAME, PARAM_VALUE, PARAM_VALUE))
MAX_REPORTS = 50


def check(data, problems):
    if not data:
        problems.append((0, "empty file"))
        return
    if not data.endswith(b"\r\n"):
        problems.append((data.count(b"\n") + 1, "last line does not end in CRLF"))
    physical = data.split(b"\r\n")
    if physical and physical[-1] == b"":
        physical.pop()
    logical = []  # (first physical line number, text)
    for number, raw in enumerate(physical, 1):
        if b"\n" in raw:
            problems.append((number, "bare LF (line endings must be CRLF)"))
        if b"\r" in raw:
            problems.append((number, "bare CR"))
        if len(raw) > MAX_OCTETS:
            problems.append((number, "%d octets (more than %d)" % (len(raw), MAX_OCTETS)))
        try:
            text = raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            problems.append((number, "invalid UTF-8 at octet %d (or a character split by "
                             "folding)" % (e.start + 1)))
            text = raw.decode("utf-8", errors="replace")
        continuation = text[:1] in (" ", "\t")
        body = text[1:] if continuation else text
        for ch in body:
            if ord(ch) < 0x20 and ch not in "\r\n" or ord(ch) == 0x7F:
                problems.append((number, "control character U+%04X" % ord(ch)))
                break
        if continuation:
            if not logical:
                problems.append((number, "continuation line before any content line"))
            else:
                logical[-1][1].append(body)
            continue
        if raw == b"":
            problems.append((number, "empty line"))
            continue
        logical.append((number, [text]))

    stack = []
    tops = 0
    for number, parts in logical:
        line = "".join(parts)
        m = CONTENT_LINE.match(line)
        if not m:
            problems.append((number, "not NAME[;PARAM=VALUE]*: ... : %r" % line[:40]))
            continue
        name = m.group(1).upper()
        value = line[m.end():]
        if name == "BEGIN":
            if not stack:
                tops += 1
                if value.upper() != "VCALENDAR":
                    problems.append((number, "top-level component %s, not VCALENDAR" % value))
            stack.append((value.upper(), number))
        elif name == "END":
            if not stack:
                problems.append((number, "END:%s without BEGIN" % value))
            elif stack[-1][0] != value.upper():
                problems.append((number, "END:%s closes BEGIN:%s of line %d"
                                 % (value, stack[-1][0], stack[-1][1])))
                stack.pop()
            else:
                stack.pop()
        elif not stack:
            problems.append((number, "%s outside any component" % name))
    for kind, number in stack:
        problems.append((number, "BEGIN:%s never ended" % kind))
    if tops != 1:
        problems.append((0, "%d top-level components (exactly one VCALENDAR expected)" % tops))


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    try:
        with open(argv[1], "rb") as f:
            data = f.read()
    except OSError as e:
        sys.stderr.write("ical_bytecheck: %s\n" % e)
        return 2
    problems = []
    check(data, problems)
    for number, message in problems[:MAX_REPORTS]:
        sys.stderr.write("%s:%d: %s\n" % (argv[1], number, message))
    if len(problems) > MAX_REPORTS:
        sys.stderr.write("... and %d more\n" % (len(problems) - MAX_REPORTS))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
