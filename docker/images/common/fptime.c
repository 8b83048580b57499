/*
 * fptime: fencepost's clock shim, preloaded into a server (LD_PRELOAD) so the
 * nemesis can move that one process's wall clock without touching the host's
 * clock, which every container shares.
 *
 * The offset lives in a small file, /run/fencepost/clock, that the nemesis
 * rewrites in place (same inode, same size, one write) and this library maps
 * read-only. Its 64 bytes are up to five decimal numbers:
 *
 *     offset_ns  strobe_ns  strobe_period_ns  [rate_ppm  since_ns]
 *
 * The wall clock reads real + offset, plus strobe_ns during every other
 * strobe period (a clock that flips back and forth). With a rate (parts per
 * million of real time; 2000000 runs twice as fast), the clock also drifts
 * from `since_ns` (a real wall-clock time, read on the node when the rate
 * was set) at that rate: real + offset + (rate - 1) * (real - since).
 *
 * Only CLOCK_REALTIME (and its coarse twin), gettimeofday() and time() move:
 * monotonic clocks are left alone, as a real skewed clock would leave them.
 * The real clock is read with the raw syscall, never through libc or the
 * vDSO: Redis's jemalloc aborts on "recursive calls to clock_gettime()" under
 * shims that call back into libc (libfaketime), and a syscall cannot recurse.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CLOCK_FILE "/run/fencepost/clock"
#define CLOCK_BYTES 64

/* NULL until mapped; (void *)-1 when the file is missing (offset 0 forever). */
static const char *volatile mapped;

static const char *clock_map(void) {
    const char *m = mapped;
    if (m)
        return m;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, CLOCK_FILE, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        m = (const char *)-1;
    } else {
        void *p = mmap(NULL, CLOCK_BYTES, PROT_READ, MAP_SHARED, fd, 0);
        syscall(SYS_close, fd);
        m = p == MAP_FAILED ? (const char *)-1 : (const char *)p;
    }
    /* Two threads may both map it on first use; either mapping is right. */
    mapped = m;
    return m;
}

#define FIELDS 5

/* Parses up to FIELDS signed decimals; returns how many it found. */
static int parse(const char *s, size_t n, long long out[FIELDS]) {
    int found = 0;
    size_t i = 0;
    while (found < FIELDS && i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\n'))
            i++;
        if (i >= n || s[i] == '\0')
            break;
        int neg = 0;
        if (s[i] == '-' || s[i] == '+')
            neg = s[i++] == '-';
        if (i >= n || s[i] < '0' || s[i] > '9')
            return -1;
        long long v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (s[i++] - '0');
        out[found++] = neg ? -v : v;
    }
    return found;
}

/* The current shift of the wall clock, in nanoseconds, at real time `real_ns`. */
static long long shift_ns(long long real_ns) {
    const char *m = clock_map();
    if (m == (const char *)-1)
        return 0;
    char a[CLOCK_BYTES], b[CLOCK_BYTES];
    long long v[FIELDS] = {0, 0, 0, 0, 0};
    /* Copy until two copies agree, so a read racing the nemesis's write never
     * sees half of an old number and half of a new one. */
    for (int tries = 0; tries < 8; tries++) {
        memcpy(a, m, CLOCK_BYTES);
        memcpy(b, m, CLOCK_BYTES);
        if (memcmp(a, b, CLOCK_BYTES) == 0)
            break;
    }
    if (parse(a, CLOCK_BYTES, v) < 1)
        return 0;
    long long shift = v[0];
    if (v[1] != 0 && v[2] > 0) {
        struct timespec mono;
        syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &mono);
        long long now = (long long)mono.tv_sec * 1000000000LL + mono.tv_nsec;
        if ((now / v[2]) & 1)
            shift += v[1];
    }
    if (v[3] > 0 && v[3] != 1000000 && real_ns > v[4]) {
        /* In double: (rate - 1) * elapsed overflows 64 bits after hours. */
        double drift = (double)(v[3] - 1000000) / 1e6 * (double)(real_ns - v[4]);
        shift += (long long)drift;
    }
    return shift;
}

static void add_ns(struct timespec *ts, long long ns) {
    long long t = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + ns;
    long long sec = t / 1000000000LL, rem = t % 1000000000LL;
    if (rem < 0) {
        rem += 1000000000LL;
        sec -= 1;
    }
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = (long)rem;
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
    int rc = (int)syscall(SYS_clock_gettime, clk, ts);
    if (rc == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
        add_ns(ts, shift_ns((long long)ts->tv_sec * 1000000000LL + ts->tv_nsec));
    return rc;
}

int gettimeofday(struct timeval *restrict tv_arg, void *restrict tz) {
    /* Linux accepts a NULL tv although glibc's prototype says it never is. */
    struct timeval *volatile tv = tv_arg;
    if (tz)
        memset(tz, 0, sizeof(struct timezone));
    if (!tv)
        return 0;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}
