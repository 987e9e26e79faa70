/*  =========================================================================
    bench_schema - JSON Schema validation against parsing, per event

    Measures, in the same run, json_loads of a realistic 1 KB event (the
    baseline) and cab_schema_validate of the parsed event against a
    realistic envelope+detail schema (enums, patterns, formats, required,
    nested objects, a $ref, uniqueItems). Prints the median time per
    operation over several runs and the ratio validate/parse.

    Usage: bench_schema [-r RUNS] [-n ITERATIONS]
    =========================================================================
*/
#include <cabruca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *s_schema_text =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
    " \"$id\":\"https://cabruca.example/schemas/issue-detection-1.0.json\","
    " \"type\":\"object\","
    " \"required\":[\"version\",\"id\",\"detail-type\",\"source\",\"account\",\"time\","
    "  \"region\",\"resources\",\"detail\"],"
    " \"properties\":{"
    "  \"version\":{\"const\":\"0\"},"
    "  \"id\":{\"$ref\":\"#/definitions/uuid\"},"
    "  \"detail-type\":{\"type\":\"string\",\"enum\":[\"Issue Detection\"]},"
    "  \"source\":{\"type\":\"string\",\"enum\":[\"cabruca.agents.monitor\"]},"
    "  \"account\":{\"type\":\"string\",\"pattern\":\"^[0-9]{12}$\"},"
    "  \"time\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "  \"region\":{\"type\":\"string\",\"pattern\":\"^[a-z]{2}(-[a-z]+)+-[0-9]$\"},"
    "  \"resources\":{\"type\":\"array\",\"maxItems\":16,\"items\":{\"type\":\"string\","
    "   \"format\":\"uri\"}},"
    "  \"detail\":{\"type\":\"object\",\"additionalProperties\":false,"
    "   \"required\":[\"schema_version\",\"agent_id\",\"correlation_id\",\"severity\","
    "    \"issue_type\",\"description\"],"
    "   \"properties\":{"
    "    \"schema_version\":{\"type\":\"string\",\"enum\":[\"1.0\"]},"
    "    \"agent_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,"
    "     \"pattern\":\"^[A-Za-z0-9][A-Za-z0-9._:-]*$\"},"
    "    \"correlation_id\":{\"$ref\":\"#/definitions/uuid\"},"
    "    \"severity\":{\"type\":\"string\",\"enum\":[\"LOW\",\"MEDIUM\",\"HIGH\",\"CRITICAL\"]},"
    "    \"issue_type\":{\"type\":\"string\",\"pattern\":\"^[a-z][a-z0-9_]*$\",\"maxLength\":64},"
    "    \"description\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":2000},"
    "    \"host\":{\"type\":\"string\",\"format\":\"hostname\"},"
    "    \"detected_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "    \"metrics\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"},"
    "     \"properties\":{\"disk_used_pct\":{\"type\":\"number\",\"minimum\":0,\"maximum\":100},"
    "      \"inodes_free\":{\"type\":\"integer\",\"minimum\":0}}},"
    "    \"tags\":{\"type\":\"array\",\"uniqueItems\":true,\"maxItems\":20,"
    "     \"items\":{\"type\":\"string\",\"maxLength\":32}},"
    "    \"evidence\":{\"type\":\"array\",\"maxItems\":10,\"items\":{\"type\":\"object\","
    "     \"required\":[\"kind\",\"value\"],\"properties\":{"
    "      \"kind\":{\"enum\":[\"log\",\"metric\",\"probe\"]},"
    "      \"value\":{\"type\":\"string\",\"maxLength\":500}}}}}}},"
    " \"definitions\":{\"uuid\":{\"type\":\"string\",\"format\":\"uuid\"}}}";

static const char *s_event_text =
    "{\"version\":\"0\",\"id\":\"6a7e8feb-b491-4cf7-a9f1-bf3703467718\","
    "\"detail-type\":\"Issue Detection\",\"source\":\"cabruca.agents.monitor\","
    "\"account\":\"123456789012\",\"time\":\"2024-05-01T12:34:56Z\",\"region\":\"us-east-1\","
    "\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/i-0abcd1234efgh5678\"],"
    "\"detail\":{\"schema_version\":\"1.0\",\"agent_id\":\"monitor-001\","
    "\"correlation_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"severity\":\"HIGH\","
    "\"issue_type\":\"disk_full\",\"description\":\"Filesystem /var is 97% full on "
    "build-host-07; the event store and logs are at risk. Largest directories: "
    "/var/log/journal (12 GB), /var/lib/cabruca (8 GB).\",\"host\":\"build-host-07.example.org\","
    "\"detected_at\":\"2024-05-01T12:34:50.123+02:00\","
    "\"metrics\":{\"disk_used_pct\":97.2,\"inodes_free\":120334,\"load_1m\":3.5},"
    "\"tags\":[\"disk\",\"storage\",\"var\",\"urgent\"],"
    "\"evidence\":[{\"kind\":\"metric\",\"value\":\"df -h /var: 97% used\"},"
    "{\"kind\":\"log\",\"value\":\"kernel: EXT4-fs warning (device sda2): ext4_dx_add_entry: "
    "Directory index full\"},{\"kind\":\"probe\",\"value\":\"touch /var/tmp/probe: ok\"}]}}";

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static int
s_compare (const void *a, const void *b)
{
    double left = *(const double *)a, right = *(const double *)b;
    return (left > right) - (left < right);
}

int
main (int argc, char *argv[])
{
    int runs = 7;
    long iterations = 20000;
    int option;
    while ((option = getopt (argc, argv, "r:n:")) != -1) {
        if (option == 'r')
            runs = (int)strtol (optarg, NULL, 10);
        else if (option == 'n')
            iterations = strtol (optarg, NULL, 10);
        else {
            fprintf (stderr, "usage: bench_schema [-r RUNS] [-n ITERATIONS]\n");
            return 100;
        }
    }
    if (runs < 1 || runs > 101 || iterations < 1) {
        fprintf (stderr, "bench_schema: bad -r or -n\n");
        return 100;
    }
    cab_error_t error;
    json_t *document = json_loads (s_schema_text, 0, NULL);
    cab_schema_t *schema = document ? cab_schema_new (document, &error) : NULL;
    json_t *event = json_loads (s_event_text, 0, NULL);
    if (!schema || !event || cab_schema_validate (schema, event, &error) != CAB_OK) {
        fprintf (stderr, "bench_schema: setup failed: %s %s\n", error.path, error.text);
        return 1;
    }
    size_t event_size = strlen (s_event_text);
    double parse[101], validate[101];
    for (int run = 0; run < runs; run++) {
        double start = s_now ();
        for (long index = 0; index < iterations; index++) {
            json_t *parsed = json_loads (s_event_text, 0, NULL);
            json_decref (parsed);
        }
        parse[run] = (s_now () - start) / (double)iterations;
        start = s_now ();
        for (long index = 0; index < iterations; index++)
            if (cab_schema_validate (schema, event, NULL) != CAB_OK)
                return 1;
        validate[run] = (s_now () - start) / (double)iterations;
    }
    qsort (parse, (size_t)runs, sizeof (double), s_compare);
    qsort (validate, (size_t)runs, sizeof (double), s_compare);
    double parse_median = parse[runs / 2], validate_median = validate[runs / 2];
    printf ("bench_schema: %zu-byte event, %d runs x %ld iterations (medians)\n", event_size, runs,
            iterations);
    printf ("  json_loads + json_decref : %8.2f us/event\n", parse_median * 1e6);
    printf ("  cab_schema_validate      : %8.2f us/event\n", validate_median * 1e6);
    printf ("  ratio validate/parse     : %8.2f\n", validate_median / parse_median);
    printf ("BENCH name=schema_validate value=%.0f unit=events/s baseline=%.0f "
            "baseline_unit=events/s(json_loads) runs=%d\n",
            1.0 / validate_median, 1.0 / parse_median, runs);
    cab_schema_destroy (&schema);
    json_decref (document);
    json_decref (event);
    return 0;
}
