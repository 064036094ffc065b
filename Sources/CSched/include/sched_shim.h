#ifndef DROVER_SCHED_SHIM_H
#define DROVER_SCHED_SHIM_H

/// The calling thread's time slice under the fair scheduler (EEVDF's request length, `sched_attr`'s
/// `sched_runtime`, Linux 6.12+), which glibc before 2.41 does not wrap and Swift cannot reach through the
/// variadic `syscall`. A thread that sleeps most of the time and wakes to answer (the protocol reader) asks
/// for a short one, so the kernel runs it when it wakes instead of finishing the slice of whatever runs.

/// The thread's slice in nanoseconds; 0 where the kernel has no per-thread slice (or on error).
unsigned long long drover_thread_slice(void);
/// Sets the thread's slice, keeping its policy and nice value: 0, or an error number (the kernel may clamp
/// the value to 0.1–100 ms, and ignores it before 6.12).
int drover_set_thread_slice(unsigned long long nanoseconds);
/// (0 asks for the default slice again.)

#endif
