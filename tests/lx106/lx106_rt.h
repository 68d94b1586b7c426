/* The lx106 test runtime's internal interface (start.S <-> runtime.c). */
#ifndef UPD_LX106_RT_H
#define UPD_LX106_RT_H

#include <stdint.h>

/* QEMU semihosting call numbers (Xtensa simcall ABI). */
#define UPD_SEMIHOST_EXIT  1
#define UPD_SEMIHOST_WRITE 4
/* host files, for tests that read data files (tests/crypto): open(path, flags, mode),
 * read(fd, buf, n), lseek(fd, off, whence), close(fd); the host's return values */
#define UPD_SEMIHOST_READ  3
#define UPD_SEMIHOST_OPEN  5
#define UPD_SEMIHOST_CLOSE 6
#define UPD_SEMIHOST_LSEEK 19

int upd_lx106_simcall(int nr, int a, int b, int c);

/* Called by start.S with the stack set up. */
_Noreturn void upd_lx106_cstart(void);

/* Called by start.S for every exception vector; prints and exits non-zero.
 * vector: 0 user, 1 kernel, 2 debug, 3 double, 4 NMI. */
_Noreturn void upd_lx106_fault(uint32_t vector, uint32_t cause, uint32_t pc, uint32_t vaddr,
                               uint32_t sp, uint32_t ps);

/* Exit statuses of faults: 64 + EXCCAUSE for exceptions, these for the others. */
#define UPD_LX106_EXIT_DEBUG  120
#define UPD_LX106_EXIT_NMI    121
#define UPD_LX106_EXIT_NESTED 122

#endif
