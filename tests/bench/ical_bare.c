/* ical_bare — the floor for tests/bench/feed_bench.sh: libical 3.0.16 building,
 * serialising and freeing a feed of the given events, with nothing else (no
 * database, no HTTP, no escaping or sanitising of our own).
 *
 *   ical_bare EVENTS.tsv [RUNS] [OUT.ics]
 *
 * EVENTS.tsv: one event per line, tab-separated (psql -At -F '<TAB>'):
 *   id  dtstamp_utc  dtstart_local  dtend_local  dtstart_utc  dtend_utc  sequence  title  location
 * (times "YYYYMMDDTHHMMSS[Z]"; the *_utc columns are for the npm generators).
 * Builds one VCALENDAR like a programme feed (calendar properties, the compact
 * Europe/London VTIMEZONE, per event UID, DTSTAMP, LAST-MODIFIED, SEQUENCE,
 * DTSTART/DTEND with TZID, SUMMARY, LOCATION, STATUS), serialises it with
 * icalcomponent_as_ical_string_r() and frees everything, RUNS times (default 7)
 * after one warm-up run. Prints one line:
 *   bytes=N events=E runs=R median_ms=T cpu_ms=C build_ms=B serialise_ms=S free_ms=F
 * (medians of wall-clock time, and of the process's CPU time, which a busy
 * machine disturbs less; only build + serialise + free is timed, not reading
 * the file).
 * OUT.ics, if given, receives one serialised feed. */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NCOL 9

static const char VTIMEZONE[] = "BEGIN:VTIMEZONE\r\n"
                                "TZID:Europe/London\r\n"
                                "X-LIC-LOCATION:Europe/London\r\n"
                                "BEGIN:DAYLIGHT\r\n"
                                "TZNAME:BST\r\n"
                                "TZOFFSETFROM:+0000\r\n"
                                "TZOFFSETTO:+0100\r\n"
                                "DTSTART:19700329T010000\r\n"
                                "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n"
                                "END:DAYLIGHT\r\n"
                                "BEGIN:STANDARD\r\n"
                                "TZNAME:GMT\r\n"
                                "TZOFFSETFROM:+0100\r\n"
                                "TZOFFSETTO:+0000\r\n"
                                "DTSTART:19701025T020000\r\n"
                                "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n"
                                "END:STANDARD\r\n"
                                "END:VTIMEZONE\r\n";

struct event {
	char *col[NCOL];
};

static double clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Splits buf in place into events; returns the count or -1. */
static long load(char *buf, struct event **out)
{
	long n = 0, cap = 1024;
	struct event *ev = malloc((size_t)cap * sizeof *ev);
	char *save = NULL;

	if (!ev)
		return -1;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = line;

		if (n == cap) {
			struct event *nev = realloc(ev, (size_t)(cap *= 2) * sizeof *ev);

			if (!nev) {
				free(ev);
				return -1;
			}
			ev = nev;
		}
		for (int c = 0; c < NCOL; c++) {
			char *tab = c < NCOL - 1 ? strchr(p, '\t') : NULL;

			if (c < NCOL - 1 && !tab) {
				fprintf(stderr, "ical_bare: line %ld has fewer than %d columns\n",
				        n + 1, NCOL);
				free(ev);
				return -1;
			}
			ev[n].col[c] = p;
			if (tab) {
				*tab = '\0';
				p = tab + 1;
			}
		}
		n++;
	}
	*out = ev;
	return n;
}

static icalproperty *zoned(icalproperty *p)
{
	icalproperty_add_parameter(p, icalparameter_new_tzid("Europe/London"));
	return p;
}

static icalcomponent *build(const struct event *ev, long n)
{
	icalcomponent *cal = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
	char uid[96];

	icalcomponent_add_property(cal,
	                           icalproperty_new_prodid("-//Waymark//Calendar Feeds 0.1//EN"));
	icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
	icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
	icalcomponent_add_property(cal, icalproperty_new_name("Bench programme"));
	icalproperty *x = icalproperty_new_x("Bench programme");
	icalproperty_set_x_name(x, "X-WR-CALNAME");
	icalcomponent_add_property(cal, x);
	x = icalproperty_new_x("Europe/London");
	icalproperty_set_x_name(x, "X-WR-TIMEZONE");
	icalcomponent_add_property(cal, x);
	icalcomponent_add_component(cal, icalcomponent_new_from_string(VTIMEZONE));
	for (long i = 0; i < n; i++) {
		const struct event *e = &ev[i];
		icalcomponent *v = icalcomponent_new(ICAL_VEVENT_COMPONENT);
		struct icaltimetype stamp = icaltime_from_string(e->col[1]);

		snprintf(uid, sizeof uid, "session-%s@waymark.invalid", e->col[0]);
		icalcomponent_add_property(v, icalproperty_new_uid(uid));
		icalcomponent_add_property(v, icalproperty_new_dtstamp(stamp));
		icalcomponent_add_property(v, icalproperty_new_lastmodified(stamp));
		icalcomponent_add_property(v, icalproperty_new_sequence(atoi(e->col[6])));
		icalcomponent_add_property(
		    v, zoned(icalproperty_new_dtstart(icaltime_from_string(e->col[2]))));
		icalcomponent_add_property(
		    v, zoned(icalproperty_new_dtend(icaltime_from_string(e->col[3]))));
		icalcomponent_add_property(v, icalproperty_new_summary(e->col[7]));
		if (e->col[8][0])
			icalcomponent_add_property(v, icalproperty_new_location(e->col[8]));
		icalcomponent_add_property(v, icalproperty_new_status(ICAL_STATUS_CONFIRMED));
		icalcomponent_add_component(cal, v);
	}
	return cal;
}

int main(int argc, char **argv)
{
	int runs = argc > 2 ? atoi(argv[2]) : 7;
	FILE *f;
	char *buf;
	long size, n;
	struct event *ev;
	size_t bytes = 0;

	if (argc < 2 || argc > 4 || runs < 1 || runs > 1000) {
		fprintf(stderr, "usage: ical_bare EVENTS.tsv [RUNS] [OUT.ics]\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		perror(argv[1]);
		return 2;
	}
	buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		perror(argv[1]);
		return 2;
	}
	fclose(f);
	buf[size] = '\0';
	n = load(buf, &ev);
	if (n < 0)
		return 2;

	double *total = calloc((size_t)runs, sizeof *total);
	double *tb = calloc((size_t)runs, sizeof *tb);
	double *ts = calloc((size_t)runs, sizeof *ts);
	double *tf = calloc((size_t)runs, sizeof *tf);
	double *cpu = calloc((size_t)runs, sizeof *cpu);
	if (!total || !tb || !ts || !tf || !cpu)
		return 2;
	for (int r = -1; r < runs; r++) { /* run -1 is the warm-up */
		double c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
		double t0 = now_ms();
		icalcomponent *cal = build(ev, n);
		double t1 = now_ms();
		char *out = icalcomponent_as_ical_string_r(cal);
		double t2 = now_ms();

		bytes = strlen(out);
		if (r == -1 && argc > 3) {
			FILE *o = fopen(argv[3], "wb");

			if (!o || fwrite(out, 1, bytes, o) != bytes || fclose(o) != 0) {
				perror(argv[3]);
				return 2;
			}
		}
		icalcomponent_free(cal);
		free(out);
		double t3 = now_ms();
		double c3 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
		if (r >= 0) {
			cpu[r] = c3 - c0;
			tb[r] = t1 - t0;
			ts[r] = t2 - t1;
			tf[r] = t3 - t2;
			total[r] = t3 - t0;
		}
	}
	printf("bytes=%zu events=%ld runs=%d median_ms=%.2f cpu_ms=%.2f build_ms=%.2f "
	       "serialise_ms=%.2f free_ms=%.2f\n",
	       bytes, n, runs, median(total, runs), median(cpu, runs), median(tb, runs),
	       median(ts, runs), median(tf, runs));
	free(total);
	free(tb);
	free(ts);
	free(tf);
	free(cpu);
	free(ev);
	free(buf);
	icaltimezone_free_builtin_timezones();
	return 0;
}
