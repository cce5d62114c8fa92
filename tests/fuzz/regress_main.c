/* Runs the fuzz target over saved inputs without libFuzzer: every file named
 * on the command line, and every regular file in each directory named, goes
 * through LLVMFuzzerTestOneInput exactly as the fuzzer would feed it. The
 * test passes when none of them crashes or fails a check (which aborts).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        fclose(f);
        return 1;
    }
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                return 1;
            }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    printf("%s (%zu bytes)\n", path, len);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the files of a directory in name order, so failures reproduce. */
static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return 1;
    }
    char **names = NULL;
    size_t count = 0;
    int failures = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char **grown = realloc(names, (count + 1) * sizeof *names);
        if (grown == NULL) {
            failures++;
            break;
        }
        names = grown;
        names[count] = malloc(strlen(dir) + strlen(de->d_name) + 2);
        if (names[count] == NULL) {
            failures++;
            break;
        }
        sprintf(names[count], "%s/%s", dir, de->d_name);
        count++;
    }
    closedir(d);
    qsort(names, count, sizeof *names, compare_names);
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            failures += run_file(names[i]);
        free(names[i]);
    }
    free(names);
    return failures;
}

int main(int argc, char **argv)
{
    int failures = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            failures++;
        } else if (S_ISDIR(st.st_mode)) {
            failures += run_dir(argv[i]);
        } else {
            failures += run_file(argv[i]);
        }
    }
    return failures ? 1 : 0;
}
