#define _GNU_SOURCE
#include "spawn_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#if defined(__GLIBC__)
#define DROVER_GLIBC_AT_LEAST(major, minor) (__GLIBC__ > (major) || (__GLIBC__ == (major) && __GLIBC_MINOR__ >= (minor)))
#else
#define DROVER_GLIBC_AT_LEAST(major, minor) 0
#endif

// glibc 2.29 and musl 1.1.24 (which defines no version macro; its headers declare it) have addchdir.
#if DROVER_GLIBC_AT_LEAST(2, 29) || (defined(__linux__) && !defined(__GLIBC__)) || defined(__APPLE__)
#define DROVER_HAS_ADDCHDIR 1
#else
#define DROVER_HAS_ADDCHDIR 0
#endif

#if DROVER_GLIBC_AT_LEAST(2, 34)
#define DROVER_HAS_ADDCLOSEFROM 1
#else
#define DROVER_HAS_ADDCLOSEFROM 0
#endif

int drover_pipe_cloexec(int fds[2]) {
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC);
#else
    // No pipe2 (Darwin): a process spawned between these calls could inherit the ends, which Darwin's
    // spawns avoid anyway with POSIX_SPAWN_CLOEXEC_DEFAULT.
    if (pipe(fds) != 0) return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

int drover_accept_cloexec(int fd) {
#if defined(__linux__)
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC);
#else
    int client = accept(fd, NULL, NULL);
    if (client >= 0) fcntl(client, F_SETFD, FD_CLOEXEC);
    return client;
#endif
}

int drover_spawn_can_addchdir(void) { return DROVER_HAS_ADDCHDIR; }

int drover_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
#if DROVER_HAS_ADDCHDIR
    return posix_spawn_file_actions_addchdir_np(actions, path);
#else
    (void)actions; (void)path;
    return ENOSYS;
#endif
}

int drover_spawn_can_addclosefrom(void) { return DROVER_HAS_ADDCLOSEFROM; }

int drover_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowest) {
#if DROVER_HAS_ADDCLOSEFROM
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
#else
    (void)actions; (void)lowest;
    return ENOSYS;
#endif
}

int drover_pidfd_open(int pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}
