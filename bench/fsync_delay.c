/* An LD_PRELOAD shim that makes every fsync and fdatasync take FSYNC_DELAY_MS milliseconds
 * longer (default 20): it sleeps that long, then calls the real one (dlsym RTLD_NEXT). It
 * stands in for a slow disk, so a benchmark can show what group commit does when each
 * commit's fsync is expensive.
 *
 * With FSYNC_DELAY_COUNTS=<file>, it also counts the calls there (two native-endian 64-bit
 * counters, fsync then fdatasync, in a shared mapping of the file), so that the benchmark can
 * read how many there were during a scenario.
 *
 *   gcc -shared -fPIC -O2 -o fsync_delay.so bench/fsync_delay.c -ldl
 *   LD_PRELOAD=$PWD/fsync_delay.so FSYNC_DELAY_MS=20 python -m obliviate serve --demo
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static sync_fn real_fsync;
static sync_fn real_fdatasync;
static long delay_ms = 20;
static uint64_t *counts; /* [0] fsync calls, [1] fdatasync calls; NULL: not counting */

static void open_counts(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return;
    }
    if (ftruncate(fd, 2 * sizeof(uint64_t)) == 0) {
        void *map = mmap(NULL, 2 * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map != MAP_FAILED) {
            counts = map;
        }
    }
    close(fd);
}

__attribute__((constructor)) static void fsync_delay_init(void) {
    const char *value = getenv("FSYNC_DELAY_MS");
    if (value != NULL && *value != '\0') {
        char *end = NULL;
        long ms = strtol(value, &end, 10);
        if (end != value && ms >= 0) {
            delay_ms = ms;
        }
    }
    const char *path = getenv("FSYNC_DELAY_COUNTS");
    if (path != NULL && *path != '\0') {
        open_counts(path);
    }
    real_fsync = (sync_fn)dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
}

static void pause_for_disk(int which) {
    int saved = errno;
    if (counts != NULL) {
        __atomic_fetch_add(&counts[which], 1, __ATOMIC_RELAXED);
    }
    struct timespec left = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) == -1 && errno == EINTR) {
    }
    errno = saved;
}

static sync_fn resolve(sync_fn *slot, const char *name) {
    if (*slot == NULL) {
        *slot = (sync_fn)dlsym(RTLD_NEXT, name);
    }
    return *slot;
}

int fsync(int fd) {
    sync_fn real = resolve(&real_fsync, "fsync");
    pause_for_disk(0);
    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    return real(fd);
}

int fdatasync(int fd) {
    sync_fn real = resolve(&real_fdatasync, "fdatasync");
    pause_for_disk(1);
    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    return real(fd);
}
