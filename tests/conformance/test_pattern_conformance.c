/*  =========================================================================
    test_pattern_conformance - run the cases of tests/conformance/patterns through
    the public API: each case alone (cab_pattern), and every valid pattern of
    a file together in one rule set (cab_ruleset), whose answer for a case's
    event must contain the case's own rule exactly when it should match.
    =========================================================================
*/
#include <cabruca.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_failures = 0;
static int s_cases = 0;

static void
s_fail (const char *file, const char *name, const char *what)
{
    fprintf (stderr, "FAIL %s: %s: %s\n", file, name, what);
    s_failures++;
}

static cab_pattern_t *
s_pattern (json_t *c, cab_error_t *error)
{
    json_t *text = json_object_get (c, "pattern_text");
    if (text)
        return cab_pattern_new (json_string_value (text), json_string_length (text), error);
    return cab_pattern_new_from_json (json_object_get (c, "pattern"), error);
}

static cab_status_t
s_add (cab_ruleset_t *set, const char *id, json_t *c, cab_error_t *error)
{
    json_t *text = json_object_get (c, "pattern_text");
    if (text)
        return cab_ruleset_add (set, id, json_string_value (text), json_string_length (text),
                                error);
    return cab_ruleset_add_json (set, id, json_object_get (c, "pattern"), error);
}

static void
s_run_file (const char *dir, const char *file)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", dir, file);
    json_error_t jerror;
    json_t *cases = json_load_file (path, JSON_DECODE_INT_AS_REAL, &jerror);
    if (!json_is_array (cases)) {
        s_fail (file, "(file)", jerror.text);
        json_decref (cases);
        return;
    }
    cab_ruleset_t *set = cab_ruleset_new ();
    size_t index;
    json_t *c;
    char id[32];
    //  Every valid pattern of the file in one rule set, id = case index.
    json_array_foreach (cases, index, c)
    {
        if (json_object_get (c, "error"))
            continue;
        snprintf (id, sizeof id, "%06zu", index);
        cab_error_t error;
        if (s_add (set, id, c, &error) != CAB_OK)
            s_fail (file, json_string_value (json_object_get (c, "name")), error.text);
    }
    json_array_foreach (cases, index, c)
    {
        const char *name = json_string_value (json_object_get (c, "name"));
        cab_error_t error;
        s_cases++;
        cab_pattern_t *pattern = s_pattern (c, &error);
        json_t *expect_error = json_object_get (c, "error");
        if (expect_error) {
            const char *want_path = json_string_value (json_object_get (expect_error, "path"));
            const char *want = json_string_value (json_object_get (expect_error, "contains"));
            char buffer[1024];
            if (pattern)
                s_fail (file, name, "pattern accepted, an error was expected");
            else if (strcmp (error.path, want_path) != 0 || !strstr (error.text, want)) {
                snprintf (buffer, sizeof buffer, "got '%s: %s', want '%s: ...%s...'", error.path,
                          error.text, want_path, want);
                s_fail (file, name, buffer);
            }
            cab_pattern_destroy (&pattern);
            continue;
        }
        if (!pattern) {
            s_fail (file, name, error.text);
            continue;
        }
        bool want = json_is_true (json_object_get (c, "match"));
        bool got = false;
        json_t *event_text = json_object_get (c, "event_text");
        json_t *event = json_object_get (c, "event");
        cab_status_t rc;
        size_t count = 0;
        size_t matches[512];
        if (event_text) {
            const char *text = json_string_value (event_text);
            rc = cab_pattern_match (pattern, text, strlen (text), &got, &error);
            if (rc == CAB_OK)
                rc = cab_ruleset_match (set, text, strlen (text), matches, 512, &count, &error);
        } else {
            rc = cab_pattern_match_json (pattern, event, &got, &error);
            if (rc == CAB_OK)
                rc = cab_ruleset_match_json (set, event, matches, 512, &count, &error);
        }
        if (rc != CAB_OK)
            s_fail (file, name, error.text);
        else if (got != want)
            s_fail (file, name, want ? "did not match" : "matched");
        else {
            snprintf (id, sizeof id, "%06zu", index);
            bool in_set = false;
            for (size_t i = 0; i < count && i < 512; i++)
                in_set |= strcmp (cab_ruleset_id (set, matches[i]), id) == 0;
            for (size_t i = 1; i < count && i < 512; i++)
                if (strcmp (cab_ruleset_id (set, matches[i - 1]),
                            cab_ruleset_id (set, matches[i])) >= 0)
                    s_fail (file, name, "rule set ids not in ascending order");
            if (in_set != want)
                s_fail (file, name, "rule set disagrees with the single pattern");
        }
        cab_pattern_destroy (&pattern);
    }
    cab_ruleset_destroy (&set);
    json_decref (cases);
}

int
main (void)
{
    const char *srcdir = getenv ("CAB_SRCDIR");
    char dir[900];
    snprintf (dir, sizeof dir, "%s/tests/conformance/patterns", srcdir ? srcdir : ".");
    DIR *handle = opendir (dir);
    if (!handle) {
        fprintf (stderr, "cannot open %s\n", dir);
        return 1;
    }
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        size_t n = strlen (entry->d_name);
        if (n > 5 && strcmp (entry->d_name + n - 5, ".json") == 0)
            s_run_file (dir, entry->d_name);
    }
    closedir (handle);
    printf ("pattern conformance: %d cases, %d failures\n", s_cases, s_failures);
    return s_failures ? 1 : 0;
}
