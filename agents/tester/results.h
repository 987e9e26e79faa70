/*  =========================================================================
    results - the counts and failed tests a test run's output reports
    =========================================================================
*/
#ifndef RESULTS_H_INCLUDED
#define RESULTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define RESULTS_MAX_FAILURES 200

typedef struct {
    char name[256];
    char message[512];
    char file[256];
} failure_t;

typedef struct {
    bool found;  //  Some format gave counts
    long total, passed, failed, skipped;
    failure_t failures[RESULTS_MAX_FAILURES];
    size_t failure_count;
} results_t;

//  Read size bytes of a run's output (Check, TAP, automake harness, "N
//  passed, M failed"), adding to self (zero it first).
void results_parse (results_t *self, const char *output, size_t size);

//  Read a JUnit XML report (NUL-terminated text), adding to self.
void results_add_junit (results_t *self, const char *xml);

#endif
