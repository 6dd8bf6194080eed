/* Reading the PyTorch reference cases written by tests/ref/make_gpt2_cases.py
 * (location in $TRIL_GPT2_CASES). */
#ifndef TRIL_TEST_GPT2_CASES_H
#define TRIL_TEST_GPT2_CASES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whitespace-separated integers from a file; returns the count (-1 if the
 * file cannot be read). *out is malloc'd. */
static inline long read_ids(const char *path, int32_t **out)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t cap = 64, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    long v;
    while (ids && fscanf(f, "%ld", &v) == 1) {
        if (n == cap) {
            int32_t *bigger = realloc(ids, 2 * cap * sizeof *ids);
            if (!bigger) { free(ids); ids = NULL; break; }
            ids = bigger;
            cap *= 2;
        }
        ids[n++] = (int32_t)v;
    }
    fclose(f);
    *out = ids;
    return ids ? (long)n : -1;
}

/* The case names listed in DIR/cases.txt (up to max); returns the count. */
static inline int read_case_names(const char *dir, char names[][64], int max)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/cases.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0;
    while (n < max && fscanf(f, "%63s", names[n]) == 1) n++;
    fclose(f);
    return n;
}

static inline const char *cases_dir(void)
{
    const char *dir = getenv("TRIL_GPT2_CASES");
    return dir ? dir : "gpt2_cases";
}

#endif
