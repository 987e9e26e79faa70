/*  =========================================================================
    fuzz_util - files and example events for the fuzz targets
    =========================================================================
*/
#include "fuzz.h"
#include <glob.h>
#include <string.h>

#ifndef CAB_FUZZ_SRCDIR
#define CAB_FUZZ_SRCDIR "."
#endif

const char *
fuzz_srcdir (void)
{
    const char *srcdir = getenv ("CAB_SRCDIR");
    return srcdir && *srcdir ? srcdir : CAB_FUZZ_SRCDIR;
}

char *
fuzz_read_file (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *buffer = NULL;
    long size = -1;
    if (fseek (file, 0, SEEK_END) == 0 && (size = ftell (file)) >= 0 &&
        fseek (file, 0, SEEK_SET) == 0)
        buffer = (char *)malloc ((size_t)size + 1);
    if (buffer && fread (buffer, 1, (size_t)size, file) != (size_t)size) {
        free (buffer);
        buffer = NULL;
    }
    fclose (file);
    if (buffer) {
        buffer[size] = 0;
        *size_p = (size_t)size;
    }
    return buffer;
}

#define S_EXAMPLES_MAX 64

static char *s_example[S_EXAMPLES_MAX];
static size_t s_example_count;
static bool s_examples_loaded;

const char *const *
fuzz_examples (size_t *count_p)
{
    if (!s_examples_loaded) {
        s_examples_loaded = true;
        char pattern[1024];
        snprintf (pattern, sizeof pattern, "%s/schemas/examples/*.valid.json", fuzz_srcdir ());
        glob_t files;
        if (glob (pattern, 0, NULL, &files) == 0) {
            for (size_t index = 0; index < files.gl_pathc; index++) {
                size_t size;
                char *text = fuzz_read_file (files.gl_pathv[index], &size);
                char *line = text, *end;
                while (line && *line && s_example_count < S_EXAMPLES_MAX) {
                    end = strchr (line, '\n');
                    size_t length = end ? (size_t)(end - line) : strlen (line);
                    if (length > 0 && (s_example[s_example_count] = strndup (line, length)))
                        s_example_count++;
                    line = end ? end + 1 : line + length;
                }
                free (text);
            }
            globfree (&files);
        }
        if (s_example_count == 0) {
            fprintf (stderr, "fuzz: no example events under %s/schemas/examples\n", fuzz_srcdir ());
            abort ();
        }
    }
    *count_p = s_example_count;
    return (const char *const *)s_example;
}
