/*  =========================================================================
    bench_pattern - `cabruca pattern match-rules` throughput, from JSON text
    to printed ids, on one core, against jansson's json_loads of the same
    events measured in the same run.

    The workload generator (seeded, deterministic) writes RULES rules with
    mixed operators (exact, prefix, numeric range, anything-but list, cidr,
    suffix, equals-ignore-case + array, wildcard, array-of-objects with two
    fields, $or) and 10,000 varied events of about 1 KB; with 100 rules each
    event matches about 9 of them. Rules 100 and up are near misses (same
    fields and operators, values no event has), so that 1,000 rules keep
    about 9 matches per event too.

    usage: bench_pattern [-c CABRUCA] [-n EVENTS] [-r RUNS] [-g DIR RULES]
      -g DIR RULES  only write DIR/rules.txt and DIR/events.txt, then exit
    =========================================================================
*/
#include <cabruca.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *s_sources[] = {
    "cabruca.monitor", "cabruca.product", "cabruca.developer", "cabruca.tester", "aws.ec2",
    "aws.s3",          "aws.lambda",      "aws.sqs",           "aws.sns",        "custom.app"};
static const char *s_regions[] = {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1",
                                  "ap-south-1"};
static const char *s_regions_upper[] = {"US-EAST-1", "US-West-2", "EU-WEST-1", "Eu-Central-1",
                                        "AP-SOUTH-1"};
static const char *s_states[] = {"pending",    "running",   "stopping", "stopped",
                                 "terminated", "rebooting", "failed",   "unknown"};
static const char *s_exts[] = {"png", "jpg", "txt", "log"};

static unsigned long s_seed = 42;

static unsigned
s_rand (unsigned n)
{
    s_seed = s_seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((s_seed >> 33) % n);
}

static void
s_write_rules (FILE *out, int nrules)
{
    for (int i = 0; i < nrules; i++) {
        //  Rules past the first 100 are near misses (same fields and
        //  operators, values no event has), so that every rule count keeps
        //  about 9 matches per event: cost against rule count at similar
        //  selectivity.
        int v = (i / 10) % 10, g = i / 100;
        char gs[16] = "";
        if (g)
            snprintf (gs, sizeof gs, "-g%d", g);
        fprintf (out, "{\"id\":\"rule-%04d\",\"pattern\":", i);
        switch (i % 10) {
            case 0:
                fprintf (out, "{\"source\":[\"%s%s\"]}", s_sources[v % 10], gs);
                break;
            case 1:
                fprintf (out, "{\"detail-type\":[{\"prefix\":\"Type%02d%s \"}]}", v % 20, gs);
                break;
            case 2:
                fprintf (out, "{\"detail\":{\"severity\":[{\"numeric\":[\">=\",%d,\"<\",%d]}]}}",
                         g ? 100 + g : (v * 7) % 85, g ? 115 + g : (v * 7) % 85 + 15);
                break;
            case 3: {
                fprintf (out, "{\"detail\":{\"state\":[{\"anything-but\":[");
                for (int s = 0, n = 0; s < 8; s++)
                    if (s != v % 8 || g)
                        fprintf (out, "%s\"%s\"", n++ ? "," : "", s_states[s]);
                fprintf (out, "]}]}}");
                break;
            }
            case 4:
                fprintf (out, "{\"detail\":{\"ip\":[{\"cidr\":\"10.%d.0.0/16\"}]}}",
                         g ? 8 + g : v % 8);
                break;
            case 5:
                fprintf (out, "{\"detail\":{\"file\":[{\"suffix\":\".%s%s\"}]}}", s_exts[v % 4],
                         gs);
                break;
            case 6:
                fprintf (out,
                         "{\"region\":[{\"equals-ignore-case\":\"%s\"}],\"detail\":{\"tags\":["
                         "\"tag%d%s\"]}}",
                         s_regions_upper[v % 5], v % 30, gs);
                break;
            case 7:
                fprintf (out, "{\"detail\":{\"file\":[{\"wildcard\":\"dir/%d%s/*.%s\"}]}}", v % 20,
                         gs, s_exts[(v / 20) % 4]);
                break;
            case 8:
                fprintf (
                    out,
                    "{\"detail\":{\"items\":{\"sku\":[\"S%d%s\"],\"qty\":[{\"numeric\":[\">\",2]"
                    "}]}}}",
                    v % 40, gs);
                break;
            default:
                fprintf (out,
                         "{\"source\":[\"%s%s\"],\"$or\":[{\"detail\":{\"state\":[\"%s\"]}},"
                         "{\"detail\":{\"user\":[{\"prefix\":\"user-1\"}]}}]}",
                         s_sources[v % 10], gs, s_states[v % 8]);
        }
        fprintf (out, "}\n");
    }
}

static void
s_write_events (FILE *out, int nevents)
{
    static const char *words[] = {"alpha", "bravo", "charlie", "delta",  "echo", "foxtrot",
                                  "golf",  "hotel", "india",   "juliet", "kilo", "lima"};
    for (int k = 0; k < nevents; k++) {
        unsigned r = s_rand (1000000);
        fprintf (
            out,
            "{\"version\":\"0\",\"id\":\"%08x-%04x-4%03x-8%03x-%012x\","
            "\"detail-type\":\"Type%02u Changed\",\"source\":\"%s\",\"account\":\"123456789012\","
            "\"time\":\"2026-11-22T08:%02u:%02uZ\",\"region\":\"%s\","
            "\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/i-%08u\"],"
            "\"detail\":{\"state\":\"%s\",\"severity\":%u,\"user\":\"user-%u\","
            "\"ip\":\"10.%u.%u.%u\",\"file\":\"dir/%u/f%u.%s\",\"count\":%u,\"price\":%u.%02u,"
            "\"tags\":[\"tag%u\",\"tag%u\",\"tag%u\"],"
            "\"items\":[{\"sku\":\"S%u\",\"qty\":%u},{\"sku\":\"S%u\",\"qty\":%u}],"
            "\"note\":\"",
            s_rand (0xFFFFFFFF), s_rand (0xFFFF), s_rand (0xFFF), s_rand (0xFFF),
            s_rand (0x7FFFFFFF), s_rand (20), s_sources[s_rand (10)], s_rand (60), s_rand (60),
            s_regions[s_rand (5)], r, s_states[s_rand (8)], s_rand (100), s_rand (50), s_rand (8),
            s_rand (256), s_rand (256), s_rand (20), r % 1000, s_exts[s_rand (4)], s_rand (1000),
            s_rand (100), s_rand (100), s_rand (30), s_rand (30), s_rand (30), s_rand (40),
            s_rand (5), s_rand (40), s_rand (5));
        //  Pad to about 1 KB with words.
        int length = 560 + (int)s_rand (120);
        for (int n = 0; n < length;) {
            const char *w = words[s_rand (12)];
            n += fprintf (out, "%s ", w);
        }
        fprintf (out, "\",\"meta\":{\"trace\":\"%016x\",\"retries\":%u,\"ok\":%s}}}\n",
                 s_rand (0x7FFFFFFF), s_rand (3), s_rand (2) ? "true" : "false");
    }
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

//  Run cabruca pattern match-rules RULES < EVENTS > OUT; returns seconds.
static double
s_run_cli (const char *cli, const char *rules, const char *events, const char *output)
{
    double start = s_now ();
    pid_t pid = fork ();
    if (pid == 0) {
        int in = open (events, O_RDONLY);
        int out = open (output, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0)
            _exit (127);
        dup2 (in, 0);
        dup2 (out, 1);
        execl (cli, cli, "pattern", "match-rules", rules, (char *)NULL);
        _exit (127);
    }
    int status = 0;
    waitpid (pid, &status, 0);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        fprintf (stderr, "bench_pattern: %s failed\n", cli);
        exit (1);
    }
    return s_now () - start;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_median (double *v, int n)
{
    qsort (v, (size_t)n, sizeof *v, s_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main (int argc, char **argv)
{
    const char *cli = "./cabruca";
    int nevents = 10000, runs = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "-c") == 0 && i + 1 < argc)
            cli = argv[++i];
        else if (strcmp (argv[i], "-n") == 0 && i + 1 < argc)
            nevents = (int)strtol (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "-r") == 0 && i + 1 < argc)
            runs = (int)strtol (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "-g") == 0 && i + 2 < argc) {
            char path[1024];
            snprintf (path, sizeof path, "%s/rules.txt", argv[i + 1]);
            FILE *out = fopen (path, "w");
            if (!out)
                return 1;
            s_write_rules (out, (int)strtol (argv[i + 2], NULL, 10));
            fclose (out);
            snprintf (path, sizeof path, "%s/events.txt", argv[i + 1]);
            out = fopen (path, "w");
            if (!out)
                return 1;
            s_write_events (out, nevents);
            fclose (out);
            return 0;
        } else {
            fprintf (stderr,
                     "usage: bench_pattern [-c CABRUCA] [-n EVENTS] [-r RUNS] [-g DIR RULES]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 100 || nevents < 1)
        return 2;
    //  In a build tree ./cabruca is libtool's wrapper script: time the real
    //  program instead, so that a shell start is not counted.
    if (strcmp (cli, "./cabruca") == 0 && access ("./.libs/cabruca", X_OK) == 0) {
        cli = "./.libs/cabruca";
        setenv ("LD_LIBRARY_PATH", "./.libs", 1);
    }
    char dir[] = "/tmp/bench_pattern.XXXXXX";
    if (!mkdtemp (dir))
        return 1;
    char events[256], output[256];
    snprintf (events, sizeof events, "%s/events.txt", dir);
    snprintf (output, sizeof output, "%s/out.txt", dir);
    FILE *out = fopen (events, "w");
    if (!out)
        return 1;
    s_write_events (out, nevents);
    fclose (out);
    //  Baseline: jansson parses each event line.
    FILE *in = fopen (events, "r");
    char *line = NULL;
    size_t cap = 0, bytes = 0;
    char **lines = calloc ((size_t)nevents, sizeof *lines);
    int n = 0;
    ssize_t len;
    while (n < nevents && (len = getline (&line, &cap, in)) > 0) {
        lines[n++] = strdup (line);
        bytes += (size_t)len;
    }
    free (line);
    fclose (in);
    double times[100];
    for (int r = 0; r < runs; r++) {
        double start = s_now ();
        for (int i = 0; i < n; i++) {
            json_t *event = json_loads (lines[i], 0, NULL);
            json_decref (event);
        }
        times[r] = s_now () - start;
    }
    double jansson = n / s_median (times, runs);
    printf ("events: %d, average %zu bytes; runs: %d (median)\n", n, bytes / (size_t)n, runs);
    printf ("baseline json_loads: %.0f events/s\n", jansson);
    int counts[] = {10, 100, 1000};
    for (int c = 0; c < 3; c++) {
        char rules[256];
        snprintf (rules, sizeof rules, "%s/rules.txt", dir);
        out = fopen (rules, "w");
        if (!out)
            return 1;
        s_write_rules (out, counts[c]);
        fclose (out);
        for (int r = 0; r < runs; r++)
            times[r] = s_run_cli (cli, rules, events, output);
        double rate = n / s_median (times, runs);
        //  Average matches per event, from the output.
        in = fopen (output, "r");
        long ids = 0, outlines = 0;
        int ch, previous = '\n';
        while ((ch = fgetc (in)) != EOF) {
            if (ch == '\n') {
                outlines++;
                if (previous != '\n')
                    ids++;
            } else if (ch == ',')
                ids++;
            previous = ch;
        }
        fclose (in);
        printf ("match-rules %4d rules: %.0f events/s (%.2fx json_loads), %.1f matches/event\n",
                counts[c], rate, rate / jansson, outlines ? (double)ids / outlines : 0);
        printf ("BENCH name=pattern_%d value=%.0f unit=events/s baseline=%.0f "
                "baseline_unit=events/s(json_loads)%s matches=%.1f runs=%d\n",
                counts[c], rate, jansson, counts[c] == 100 ? " target=>=100000" : "",
                outlines ? (double)ids / outlines : 0, runs);
        unlink (rules);
    }
    for (int i = 0; i < n; i++)
        free (lines[i]);
    free (lines);
    unlink (events);
    unlink (output);
    rmdir (dir);
    return 0;
}
