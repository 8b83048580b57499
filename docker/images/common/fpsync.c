/*
 * fpsync: fencepost's durability shim, preloaded into a server beside the
 * clock shim, so the nemesis can cut a node's power (`lose-unsynced`): the
 * server dies, and every write to its data files since that file's last
 * fsync is lost, as after a power cut or a kernel crash. A plain kill -9
 * loses nothing the kernel's page cache holds, so without this a server that
 * acknowledges before it syncs (Redis's `appendfsync everysec`) never shows
 * what it risks.
 *
 * The model, per data file: a shadow copy, SHADOW_ROOT followed by the
 * file's absolute path, holds what a power cut would leave of it, the
 * content it had at its last fsync. The shim keeps the shadow up to date:
 *   - the first write a process makes to a file with no shadow copies the
 *     file first (what was there before fencepost looked counts as synced);
 *   - writes are remembered as dirty ranges; fsync/fdatasync copy them to
 *     the shadow before the real sync, as does each write to a file opened
 *     O_SYNC/O_DSYNC;
 *   - a file whose size the shim's writes do not explain (it was written
 *     in a way the shim cannot see: stdio, another process, mmap) is copied
 *     whole at its next sync;
 *   - rename moves the shadow with the file, unlink removes it, and a file
 *     renamed over from an untracked one loses its shadow.
 * After a power cut, /fencepost/lose-unsynced (run by the entrypoint before
 * the server starts again) copies each shadow over its file.
 *
 * What the shim cannot see it errs on keeping: a file with no shadow is
 * left whole, so fencepost may lose less than a real power cut would, never
 * more (a false "the service forgot an acknowledged write" would blame a
 * vendor on no evidence). Only files under the directories named in
 * FENCEPOST_DURABLE (colon-separated, set by the image's start script for
 * the server alone) are tracked; without it the shim does nothing.
 * Directory entries are treated as durable at once (a created file exists
 * after the cut, empty if it was never synced).
 *
 * Every system call the shim makes, and every call it passes on, is the raw
 * syscall: calling back into libc could recurse (see fptime.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <stdio.h>
#include <unistd.h>

#define SHADOW_ROOT "/var/lib/fencepost-durable"
#define MAX_PREFIXES 4
#define MAX_FILES 256
#define MAX_RANGES 8
#define MAX_FDS 65536
#define PATH_BYTES 1024
#define COPY_BYTES 65536

struct range {
    uint64_t start, end;
};

struct file {
    int used;
    dev_t dev;
    ino_t ino;
    char path[PATH_BYTES];
    int nranges;
    struct range ranges[MAX_RANGES];
    /* The next sync copies the whole file: a shadow older than this process. */
    int whole;
    /* The size this process's writes explain. */
    uint64_t size;
};

static int active;
static char prefixes[MAX_PREFIXES][PATH_BYTES];
static int nprefixes;
static struct file files[MAX_FILES];
/* Per fd: 0 not looked at yet, -1 not a tracked file, else files[] index + 1. */
static short fd_state[MAX_FDS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char copy_buffer[COPY_BYTES];

__attribute__((constructor)) static void fpsync_init(void) {
    const char *list = getenv("FENCEPOST_DURABLE");
    if (!list || !*list)
        return;
    while (*list && nprefixes < MAX_PREFIXES) {
        const char *end = strchr(list, ':');
        size_t n = end ? (size_t)(end - list) : strlen(list);
        while (n > 1 && list[n - 1] == '/')
            n--;
        if (n > 0 && n < PATH_BYTES && list[0] == '/') {
            memcpy(prefixes[nprefixes], list, n);
            prefixes[nprefixes][n] = '\0';
            nprefixes++;
        }
        if (!end)
            break;
        list = end + 1;
    }
    active = nprefixes > 0;
}

static int tracked_path(const char *path) {
    for (int i = 0; i < nprefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(path, prefixes[i], n) == 0 && (path[n] == '/' || path[n] == '\0'))
            return 1;
    }
    return 0;
}

static int shadow_of(const char *path, char *out) {
    size_t root = sizeof(SHADOW_ROOT) - 1, n = strlen(path);
    if (root + n + 1 > PATH_BYTES)
        return -1;
    memcpy(out, SHADOW_ROOT, root);
    memcpy(out + root, path, n + 1);
    return 0;
}

static void forget_fd(int fd) {
    if (fd >= 0 && fd < MAX_FDS)
        fd_state[fd] = 0;
}

static int stat_fd(int fd, struct stat *st) {
    return (int)syscall(SYS_newfstatat, fd, "", st, AT_EMPTY_PATH);
}

/* "/proc/self/fd/N" for `fd`. */
static int fd_link(int fd, char *link) {
    if (fd < 0)
        return -1;
    memcpy(link, "/proc/self/fd/", 15);
    char digits[12];
    int d = 0;
    unsigned v = (unsigned)fd;
    do {
        digits[d++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t at = strlen(link);
    while (d)
        link[at++] = digits[--d];
    link[at] = '\0';
    return 0;
}

/* The absolute path an fd (or AT_FDCWD's directory) names; -1 if none. */
static int fd_path(int fd, char *out) {
    long n;
    if (fd == AT_FDCWD) {
        n = syscall(SYS_getcwd, out, PATH_BYTES);
        return n > 0 ? 0 : -1;
    }
    char link[32];
    if (fd_link(fd, link) < 0)
        return -1;
    n = syscall(SYS_readlinkat, AT_FDCWD, link, out, PATH_BYTES - 1);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    return out[0] == '/' ? 0 : -1;
}

/* `path` relative to `dirfd`, made absolute (not normalised: the servers
 * fencepost tracks name their files plainly). */
static int absolute(int dirfd, const char *path, char *out) {
    if (path[0] == '/') {
        size_t n = strlen(path);
        if (n >= PATH_BYTES)
            return -1;
        memcpy(out, path, n + 1);
        return 0;
    }
    if (fd_path(dirfd, out) < 0)
        return -1;
    size_t a = strlen(out), b = strlen(path);
    const char *rest = path;
    if (b >= 2 && path[0] == '.' && path[1] == '/') {
        rest += 2;
        b -= 2;
    }
    if (a + 1 + b + 1 > PATH_BYTES)
        return -1;
    out[a] = '/';
    memcpy(out + a + 1, rest, b + 1);
    return 0;
}

static void mkdirs(const char *path) {
    char dir[PATH_BYTES];
    size_t n = strlen(path);
    memcpy(dir, path, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (dir[i] == '/') {
            dir[i] = '\0';
            syscall(SYS_mkdirat, AT_FDCWD, dir, 0700);
            dir[i] = '/';
        }
    }
}

/* Copies [start, end) of `from` into `to`; with `sparse`, blocks of zeros
 * are skipped (`to` was just emptied). */
static int copy(int from, int to, uint64_t start, uint64_t end, int sparse) {
    while (start < end) {
        size_t want = end - start < COPY_BYTES ? (size_t)(end - start) : COPY_BYTES;
        long got = syscall(SYS_pread64, from, copy_buffer, want, (off_t)start);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -1 : 0;
        int zeros = 0;
        if (sparse) {
            zeros = 1;
            for (long i = 0; i < got; i++) {
                if (copy_buffer[i]) {
                    zeros = 0;
                    break;
                }
            }
        }
        for (long done = 0; !zeros && done < got;) {
            long put = syscall(SYS_pwrite64, to, copy_buffer + done, got - done, (off_t)(start + done));
            if (put < 0 && errno == EINTR)
                continue;
            if (put <= 0)
                return -1;
            done += put;
        }
        start += (uint64_t)got;
    }
    return 0;
}

/* The file `fd` has open, opened again for reading (servers open their
 * logs write-only): through /proc, so a renamed file is still the same. */
static int reopen(int fd) {
    char link[PATH_BYTES];
    if (fd_link(fd, link) < 0)
        return -1;
    return (int)syscall(SYS_openat, AT_FDCWD, link, O_RDONLY | O_CLOEXEC);
}

/* Makes `shadow` a copy of the file `fd` has open. */
static int copy_whole(int fd, const char *shadow, uint64_t size) {
    int from = reopen(fd);
    if (from < 0)
        return -1;
    mkdirs(shadow);
    int to = (int)syscall(SYS_openat, AT_FDCWD, shadow, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (to < 0) {
        syscall(SYS_close, from);
        return -1;
    }
    int rc = copy(from, to, 0, size, 1);
    syscall(SYS_close, from);
    if (rc == 0)
        rc = (int)syscall(SYS_ftruncate, to, (off_t)size);
    syscall(SYS_close, to);
    return rc;
}

/* A file the shim cannot follow keeps everything: its shadow goes. */
static void untrack(const char *path) {
    char shadow[PATH_BYTES];
    if (shadow_of(path, shadow) == 0)
        syscall(SYS_unlinkat, AT_FDCWD, shadow, 0);
}

/* The tracked file `fd` writes to, found (and its shadow made) on first
 * use; -1 if it is not one. Called with the lock held. */
static int resolve(int fd) {
    if (fd < 0)
        return -1;
    struct stat st;
    if (fd < MAX_FDS && fd_state[fd] > 0) {
        struct file *f = &files[fd_state[fd] - 1];
        /* A closed fd's number taken by another file through a path the
         * shim cannot see (fclose, then fopen). */
        if (f->used && stat_fd(fd, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino)
            return fd_state[fd] - 1;
        fd_state[fd] = 0;
    }
    if (fd < MAX_FDS && fd_state[fd] < 0)
        return -1;
    char path[PATH_BYTES];
    int state = -1;
    if (stat_fd(fd, &st) == 0 && S_ISREG(st.st_mode) && fd_path(fd, path) == 0 && tracked_path(path)) {
        int free_slot = -1;
        for (int i = 0; i < MAX_FILES; i++) {
            if (files[i].used && files[i].dev == st.st_dev && files[i].ino == st.st_ino) {
                state = i + 1;
                break;
            }
            if (!files[i].used && free_slot < 0)
                free_slot = i;
        }
        if (state < 0 && free_slot < 0) {
            untrack(path);
        } else if (state < 0) {
            struct file *f = &files[free_slot];
            char shadow[PATH_BYTES];
            struct stat sst;
            if (shadow_of(path, shadow) == 0) {
                memset(f, 0, sizeof *f);
                memcpy(f->path, path, strlen(path) + 1);
                f->dev = st.st_dev;
                f->ino = st.st_ino;
                f->size = (uint64_t)st.st_size;
                if (syscall(SYS_newfstatat, AT_FDCWD, shadow, &sst, 0) == 0) {
                    f->whole = 1;
                    f->used = 1;
                } else if (copy_whole(fd, shadow, (uint64_t)st.st_size) == 0) {
                    f->used = 1;
                } else {
                    untrack(path);
                }
                if (f->used)
                    state = free_slot + 1;
            }
        }
    }
    if (fd < MAX_FDS)
        fd_state[fd] = (short)state;
    return state > 0 ? state - 1 : -1;
}

static void add_range(struct file *f, uint64_t start, uint64_t end) {
    for (int i = 0; i < f->nranges; i++) {
        struct range *r = &f->ranges[i];
        if (start <= r->end && end >= r->start) {
            r->start = start < r->start ? start : r->start;
            r->end = end > r->end ? end : r->end;
            return;
        }
    }
    if (f->nranges == MAX_RANGES) {
        /* Full: fold the new range into the nearest (copying a little more). */
        int best = 0;
        uint64_t gap = UINT64_MAX;
        for (int i = 0; i < f->nranges; i++) {
            struct range *r = &f->ranges[i];
            uint64_t g = start > r->end ? start - r->end : r->start > end ? r->start - end : 0;
            if (g < gap) {
                gap = g;
                best = i;
            }
        }
        struct range *r = &f->ranges[best];
        r->start = start < r->start ? start : r->start;
        r->end = end > r->end ? end : r->end;
        return;
    }
    f->ranges[f->nranges].start = start;
    f->ranges[f->nranges].end = end;
    f->nranges++;
}

/* Makes the shadow of files[index] what a sync of `fd` makes durable. */
static void sync_shadow(int index, int fd) {
    struct file *f = &files[index];
    struct stat st;
    char shadow[PATH_BYTES];
    if (stat_fd(fd, &st) != 0 || shadow_of(f->path, shadow) != 0)
        return;
    uint64_t size = (uint64_t)st.st_size;
    int rc;
    if (f->whole || size != f->size) {
        rc = copy_whole(fd, shadow, size);
    } else {
        int from = reopen(fd);
        int to = (int)syscall(SYS_openat, AT_FDCWD, shadow, O_WRONLY | O_CLOEXEC);
        rc = from < 0 || to < 0 ? -1 : 0;
        for (int i = 0; rc == 0 && i < f->nranges; i++) {
            uint64_t end = f->ranges[i].end < size ? f->ranges[i].end : size;
            if (f->ranges[i].start < end)
                rc = copy(from, to, f->ranges[i].start, end, 0);
        }
        if (rc == 0)
            rc = (int)syscall(SYS_ftruncate, to, (off_t)size);
        if (from >= 0)
            syscall(SYS_close, from);
        if (to >= 0)
            syscall(SYS_close, to);
    }
    if (rc != 0) {
        /* A shadow that may be behind would lose synced data: drop it. */
        untrack(f->path);
        f->used = 0;
        return;
    }
    f->nranges = 0;
    f->whole = 0;
    f->size = size;
}

/* Before a write to `fd`: a file seen for the first time gets its shadow
 * from what it holds now, before this write adds anything unsynced. */
static void before_write(int fd) {
    if (!active)
        return;
    int saved = errno;
    pthread_mutex_lock(&lock);
    resolve(fd);
    pthread_mutex_unlock(&lock);
    errno = saved;
}

/* After `len` bytes were written to `fd` at `offset` (-1: the fd's position). */
static void after_write(int fd, off_t offset, long len) {
    if (!active || len <= 0)
        return;
    int saved = errno;
    pthread_mutex_lock(&lock);
    int index = resolve(fd);
    if (index >= 0) {
        struct file *f = &files[index];
        if (offset < 0)
            offset = (off_t)syscall(SYS_lseek, fd, 0, SEEK_CUR) - len;
        if (offset >= 0) {
            uint64_t end = (uint64_t)offset + (uint64_t)len;
            add_range(f, (uint64_t)offset, end);
            if (end > f->size)
                f->size = end;
            long flags = syscall(SYS_fcntl, fd, F_GETFL);
            if (flags >= 0 && (flags & (O_SYNC | O_DSYNC)))
                sync_shadow(index, fd);
        } else {
            f->whole = 1;
        }
    }
    pthread_mutex_unlock(&lock);
    errno = saved;
}

static void note_sync(int fd) {
    if (!active)
        return;
    int saved = errno;
    pthread_mutex_lock(&lock);
    /* Looked up afresh: a sync must never be missed for a stale fd. */
    forget_fd(fd);
    int index = resolve(fd);
    if (index >= 0)
        sync_shadow(index, fd);
    pthread_mutex_unlock(&lock);
    errno = saved;
}

static int open_mode(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

static int opened(long fd) {
    if (fd >= 0)
        forget_fd((int)fd);
    return (int)fd;
}

int open(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int mode = open_mode(flags, ap);
    va_end(ap);
    return opened(syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}

int open64(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int mode = open_mode(flags, ap);
    va_end(ap);
    return opened(syscall(SYS_openat, AT_FDCWD, path, flags | O_LARGEFILE, mode));
}

int openat(int dirfd, const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int mode = open_mode(flags, ap);
    va_end(ap);
    return opened(syscall(SYS_openat, dirfd, path, flags, mode));
}

int openat64(int dirfd, const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int mode = open_mode(flags, ap);
    va_end(ap);
    return opened(syscall(SYS_openat, dirfd, path, flags | O_LARGEFILE, mode));
}

int creat(const char *path, mode_t mode) {
    return opened(syscall(SYS_openat, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode));
}

int creat64(const char *path, mode_t mode) {
    return opened(syscall(SYS_openat, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode));
}

int close(int fd) {
    forget_fd(fd);
    return (int)syscall(SYS_close, fd);
}

int dup2(int old, int new) {
    long rc = syscall(SYS_dup3, old, new, 0);
    if (old == new) {
        /* dup3 refuses equal fds; dup2 answers with the fd if it is open. */
        rc = syscall(SYS_fcntl, old, F_GETFD) < 0 ? -1 : new;
    }
    forget_fd(new);
    return (int)rc;
}

int dup3(int old, int new, int flags) {
    long rc = syscall(SYS_dup3, old, new, flags);
    forget_fd(new);
    return (int)rc;
}

ssize_t write(int fd, const void *buf, size_t n) {
    before_write(fd);
    long rc = syscall(SYS_write, fd, buf, n);
    after_write(fd, -1, rc);
    return rc;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset) {
    before_write(fd);
    long rc = syscall(SYS_pwrite64, fd, buf, n, offset);
    after_write(fd, offset, rc);
    return rc;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t offset) {
    return pwrite(fd, buf, n, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
    before_write(fd);
    long rc = syscall(SYS_writev, fd, iov, count);
    after_write(fd, -1, rc);
    return rc;
}

int fsync(int fd) {
    note_sync(fd);
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd) {
    note_sync(fd);
    return (int)syscall(SYS_fdatasync, fd);
}

static void note_truncate(int fd, off_t length) {
    if (!active)
        return;
    pthread_mutex_lock(&lock);
    int index = resolve(fd);
    if (index >= 0) {
        struct file *f = &files[index];
        f->size = (uint64_t)length;
        for (int i = 0; i < f->nranges; i++)
            if (f->ranges[i].end > (uint64_t)length)
                f->ranges[i].end = (uint64_t)length;
    }
    pthread_mutex_unlock(&lock);
}

int ftruncate(int fd, off_t length) {
    before_write(fd);
    int rc = (int)syscall(SYS_ftruncate, fd, length);
    if (rc == 0) {
        int saved = errno;
        note_truncate(fd, length);
        errno = saved;
    }
    return rc;
}

int ftruncate64(int fd, off_t length) {
    return ftruncate(fd, length);
}

static void note_unlink(int dir, const char *path);

/* After `from` was renamed to `to`: the shadow follows the file. */
static void note_rename(int olddir, const char *from, int newdir, const char *to) {
    char a[PATH_BYTES], b[PATH_BYTES], sa[PATH_BYTES], sb[PATH_BYTES];
    if (absolute(newdir, to, b) < 0 || !tracked_path(b) || shadow_of(b, sb) < 0)
        return;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_FILES; i++) {
        if (files[i].used && strcmp(files[i].path, b) == 0)
            files[i].used = 0;
    }
    if (absolute(olddir, from, a) == 0 && tracked_path(a) && shadow_of(a, sa) == 0 &&
        syscall(SYS_renameat2, AT_FDCWD, sa, AT_FDCWD, sb, 0) == 0) {
        for (int i = 0; i < MAX_FILES; i++) {
            if (files[i].used && strcmp(files[i].path, a) == 0)
                memcpy(files[i].path, b, strlen(b) + 1);
        }
    } else {
        untrack(b);
    }
    pthread_mutex_unlock(&lock);
}

int rename(const char *from, const char *to) {
    int rc = (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 0);
    if (rc == 0 && active) {
        int saved = errno;
        note_rename(AT_FDCWD, from, AT_FDCWD, to);
        errno = saved;
    }
    return rc;
}

int renameat(int olddir, const char *from, int newdir, const char *to) {
    int rc = (int)syscall(SYS_renameat2, olddir, from, newdir, to, 0);
    if (rc == 0 && active) {
        int saved = errno;
        note_rename(olddir, from, newdir, to);
        errno = saved;
    }
    return rc;
}

int renameat2(int olddir, const char *from, int newdir, const char *to, unsigned int flags) {
    int rc = (int)syscall(SYS_renameat2, olddir, from, newdir, to, flags);
    if (rc == 0 && active) {
        int saved = errno;
        /* An exchange swaps two files: neither shadow can be trusted. */
        if (flags & RENAME_EXCHANGE) {
            note_unlink(olddir, from);
            note_unlink(newdir, to);
        } else {
            note_rename(olddir, from, newdir, to);
        }
        errno = saved;
    }
    return rc;
}

static void note_unlink(int dir, const char *path) {
    char a[PATH_BYTES];
    if (absolute(dir, path, a) < 0 || !tracked_path(a))
        return;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_FILES; i++) {
        if (files[i].used && strcmp(files[i].path, a) == 0)
            files[i].used = 0;
    }
    untrack(a);
    pthread_mutex_unlock(&lock);
}

int unlink(const char *path) {
    int rc = (int)syscall(SYS_unlinkat, AT_FDCWD, path, 0);
    if (rc == 0 && active) {
        int saved = errno;
        note_unlink(AT_FDCWD, path);
        errno = saved;
    }
    return rc;
}

int unlinkat(int dir, const char *path, int flags) {
    int rc = (int)syscall(SYS_unlinkat, dir, path, flags);
    if (rc == 0 && active && !(flags & AT_REMOVEDIR)) {
        int saved = errno;
        note_unlink(dir, path);
        errno = saved;
    }
    return rc;
}
