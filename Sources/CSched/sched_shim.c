#define _GNU_SOURCE
#include "sched_shim.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>

/// The kernel's `struct sched_attr` (uapi/linux/sched/types.h), first version plus utilization clamps.
struct drover_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
    uint32_t sched_util_min;
    uint32_t sched_util_max;
};

static int read_attr(struct drover_sched_attr *attr) {
    memset(attr, 0, sizeof *attr);
    return syscall(SYS_sched_getattr, 0, attr, sizeof *attr, 0) == 0 ? 0 : errno;
}

unsigned long long drover_thread_slice(void) {
    struct drover_sched_attr attr;
    if (read_attr(&attr) != 0) return 0;
    return attr.sched_runtime;
}

int drover_set_thread_slice(unsigned long long nanoseconds) {
    struct drover_sched_attr attr;
    int error = read_attr(&attr);
    if (error != 0) return error;
    // Only the fair policies have a slice to ask for; leave real-time or deadline threads alone.
    if (attr.sched_policy != 0 /* SCHED_OTHER */ && attr.sched_policy != 3 /* SCHED_BATCH */) return EINVAL;
    attr.size = sizeof attr;
    attr.sched_flags = 0;
    attr.sched_runtime = nanoseconds;
    return syscall(SYS_sched_setattr, 0, &attr, 0) == 0 ? 0 : errno;
}
#else
unsigned long long drover_thread_slice(void) { return 0; }
int drover_set_thread_slice(unsigned long long nanoseconds) { (void)nanoseconds; return ENOSYS; }
#endif
