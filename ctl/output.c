/* Tables, ages, sizes, times and durations for shoalctl; see output.h. */
#include "output.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Columns are separated by this many spaces at least, as kubectl does. */
#define TABLE_GAP 3

struct ctl_table {
    size_t ncols;
    char **cells; /* row-major; row 0 is the header */
    size_t nrows; /* rows including the header */
    size_t cap;   /* rows allocated */
};

static char *copy_cell(const char *s)
{
    return strdup(s ? s : "-");
}

static shoal_err add_row(ctl_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **grown = realloc(t->cells, cap * t->ncols * sizeof *grown);
        if (!grown)
            return SHOAL_ENOMEM;
        t->cells = grown;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        row[c] = copy_cell(cells[c]);
        if (!row[c]) {
            while (c-- > 0)
                free(row[c]);
            return SHOAL_ENOMEM;
        }
    }
    t->nrows++;
    return SHOAL_OK;
}

ctl_table *ctl_table_new(size_t ncols, const char *const *headers)
{
    ctl_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    if (add_row(t, headers) != SHOAL_OK) {
        free(t->cells);
        free(t);
        return NULL;
    }
    return t;
}

shoal_err ctl_table_add(ctl_table *t, const char *const *cells)
{
    return add_row(t, cells);
}

size_t ctl_table_rows(const ctl_table *t)
{
    return t->nrows - 1;
}

size_t ctl_utf8_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

void ctl_table_print(const ctl_table *t, int indent, FILE *out)
{
    size_t *width = calloc(t->ncols, sizeof *width);
    if (!width)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = ctl_utf8_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        fprintf(out, "%*s", indent, "");
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            fputs(cell, out);
            if (c + 1 < t->ncols) {
                size_t pad = width[c] - ctl_utf8_width(cell) + TABLE_GAP;
                fprintf(out, "%*s", (int)pad, "");
            }
        }
        fputc('\n', out);
    }
    free(width);
}

void ctl_table_free(ctl_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void ctl_format_age(int64_t ms, char *buf, size_t size)
{
    int64_t s = ms > 0 ? ms / 1000 : 0;
    if (s < 60)
        snprintf(buf, size, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, size, "%lldm", (long long)(s / 60));
    else if (s < 86400)
        snprintf(buf, size, "%lldh", (long long)(s / 3600));
    else if (s < 365 * 86400)
        snprintf(buf, size, "%lldd", (long long)(s / 86400));
    else
        snprintf(buf, size, "%lldy", (long long)(s / (365 * 86400)));
}

void ctl_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB",
                                        "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, size, "%u B", (unsigned)bytes);
        return;
    }
    double v = (double)bytes / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    double tenths = round(v * 10) / 10;
    if (tenths >= 100 || tenths == floor(tenths))
        snprintf(buf, size, "%.0f %s", tenths >= 100 ? round(v) : tenths,
                 units[u]);
    else
        snprintf(buf, size, "%.1f %s", tenths, units[u]);
}

void ctl_format_time(int64_t unix_ms, char *buf, size_t size)
{
    int64_t ms = unix_ms % 1000;
    time_t secs = (time_t)(unix_ms / 1000);
    if (ms < 0) {
        ms += 1000;
        secs--;
    }
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, size, "%lld", (long long)unix_ms);
        return;
    }
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", date, (int)ms);
}

void ctl_format_duration(int64_t ms, char *buf, size_t size)
{
    if (ms != 0 && ms % 3600000 == 0)
        snprintf(buf, size, "%lldh", (long long)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(buf, size, "%lldm", (long long)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, size, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, size, "%lldms", (long long)ms);
}

bool ctl_parse_duration(const char *s, int64_t *ms)
{
    static const struct {
        const char *name;
        double ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    const char *p = s;
    double whole = 0, frac = 0, scale = 1;
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p)) {
        whole = whole * 10 + (*p - '0');
        if (whole > 1e12)
            return false;
        p++;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p)) {
            scale /= 10;
            frac += (*p - '0') * scale;
            p++;
        }
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].name) != 0)
            continue;
        double v = round((whole + frac) * units[i].ms);
        if (v < 1 || v > INT32_MAX)
            return false;
        *ms = (int64_t)v;
        return true;
    }
    return false;
}
