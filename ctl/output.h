/* What shoalctl shows people: aligned tables, ages, sizes, times, and the
 * durations its options take. Nothing here talks to a node. */
#ifndef CTL_OUTPUT_H
#define CTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shoal_err.h"

/* A table printed like kubectl's: an upper-case header row, then one row
 * per item, columns left-aligned and separated by at least three spaces,
 * no trailing blanks. */
typedef struct ctl_table ctl_table;

/* A table with ncols columns headed by headers (copied). NULL when memory
 * runs out. */
ctl_table *ctl_table_new(size_t ncols, const char *const *headers);
/* Appends a row of ncols cells (copied; a NULL cell prints as "-").
 * Errors: SHOAL_ENOMEM. */
shoal_err ctl_table_add(ctl_table *t, const char *const *cells);
/* The number of rows added so far. */
size_t ctl_table_rows(const ctl_table *t);
/* Prints the header and the rows, each line indented by indent spaces;
 * width counts UTF-8 characters. */
void ctl_table_print(const ctl_table *t, int indent, FILE *out);
void ctl_table_free(ctl_table *t);

/* How long ago something happened, from a difference in milliseconds:
 * "5s", "3m", "2h", "4d", "2y" (whole units, rounded down; a negative
 * difference, from clocks that disagree, reads "0s"). */
void ctl_format_age(int64_t ms, char *buf, size_t size);

/* A byte count for people: "512 B", "12.3 KiB", "64 MiB", "1.5 GiB" (one
 * decimal below 100 units, none when it is .0 or at 100 units and more). */
void ctl_format_size(uint64_t bytes, char *buf, size_t size);

/* A time in milliseconds since the epoch as UTC with milliseconds:
 * "2026-11-21T08:24:24.123Z". */
void ctl_format_time(int64_t unix_ms, char *buf, size_t size);

/* A duration in the form ctl_parse_duration reads, with the largest unit
 * that states it exactly: 500 -> "500ms", 10000 -> "10s", 120000 -> "2m". */
void ctl_format_duration(int64_t ms, char *buf, size_t size);

/* Parses a positive duration: a number (digits, optionally a fraction)
 * followed by one of the units ms, s, m, h: "500ms", "10s", "1.5s", "2m".
 * The result is whole milliseconds, at least 1 and at most INT32_MAX (what
 * NNG's timeouts hold). false when s is not such a duration. */
bool ctl_parse_duration(const char *s, int64_t *ms);

/* The number of characters (not bytes) in the UTF-8 string s. */
size_t ctl_utf8_width(const char *s);

#endif
