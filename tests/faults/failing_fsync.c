/* LD_PRELOAD shim for fault tests: fsync and fdatasync fail with EIO while the file named by
 * SLUICE_FAULT_FSYNC_FLAG exists, as they do when a disk reports a write error. The server's
 * own code is unchanged; only the system calls fail. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static int sync_unless_failing(const char *name, sync_fn *real, int fd) {
    const char *flag = getenv("SLUICE_FAULT_FSYNC_FLAG");
    if (flag != NULL && access(flag, F_OK) == 0) {
        errno = EIO;
        return -1;
    }
    if (*real == NULL) *real = (sync_fn)dlsym(RTLD_NEXT, name);
    return (*real)(fd);
}

int fsync(int fd) {
    static sync_fn real;
    return sync_unless_failing("fsync", &real, fd);
}

int fdatasync(int fd) {
    static sync_fn real;
    return sync_unless_failing("fdatasync", &real, fd);
}
