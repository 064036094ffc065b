#ifndef DROVER_SPAWN_SHIM_H
#define DROVER_SPAWN_SHIM_H

#include <spawn.h>

/// `pipe2`, `posix_spawn_file_actions_addchdir_np` and `posix_spawn_file_actions_addclosefrom_np` sit
/// behind `_GNU_SOURCE`, so Swift's Glibc module does not import them, and a fully static binary cannot
/// find them with dlsym. These wrappers are compiled with `_GNU_SOURCE` and call them directly.

/// A pipe whose both ends are close-on-exec: atomically (pipe2) where the libc has it. 0, or -1 and errno.
int drover_pipe_cloexec(int fds[2]);

/// `accept` whose new socket is close-on-exec atomically (accept4) where the libc has it. The socket, or -1 and errno.
int drover_accept_cloexec(int fd);

/// Whether `drover_spawn_addchdir` works with this libc (glibc 2.29+, musl 1.1.24+, macOS); 1 or 0.
int drover_spawn_can_addchdir(void);
/// `posix_spawn_file_actions_addchdir_np`: 0 or an error number (ENOSYS where the libc lacks it).
int drover_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// Whether `drover_spawn_addclosefrom` works with this libc (glibc 2.34+); 1 or 0.
int drover_spawn_can_addclosefrom(void);
/// `posix_spawn_file_actions_addclosefrom_np`: 0 or an error number (ENOSYS where the libc lacks it).
int drover_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowest);

/// `pidfd_open(pid, 0)`: a close-on-exec descriptor that polls readable once the process has exited, or
/// -1 and errno (ENOSYS before Linux 5.3 and off Linux).
int drover_pidfd_open(int pid);

#endif
